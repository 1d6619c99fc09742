#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif

/// Runs work on a short-lived thread with a large stack, so deeply nested (or hostile) templates and data hit the
/// interpreter's own depth limits long before the caller's thread stack (512 KiB on some platforms) could overflow.
enum BigStack {
    static let stackSize = 64 << 20

    /// The job handed to the thread. The calling thread blocks in `pthread_join` until the thread has finished with
    /// it, so the job is never accessed concurrently.
    private final class Job {
        let work: () -> Void
        init(_ work: @escaping () -> Void) { self.work = work }
    }

    static func run<T>(_ body: () throws -> T) throws -> T {
        var result: Result<T, any Error>?
        withoutActuallyEscaping(body) { body in
            let job = Job { result = Result { try body() } }
            if !spawnAndJoin(job) { job.work() }
        }
        guard let result else { throw TemplateError.runtime("internal error: render thread produced no result") }
        return try result.get()
    }

    private static func spawnAndJoin(_ job: Job) -> Bool {
        var attributes = pthread_attr_t()
        guard pthread_attr_init(&attributes) == 0 else { return false }
        defer { pthread_attr_destroy(&attributes) }
        guard pthread_attr_setstacksize(&attributes, stackSize) == 0 else { return false }
        let context = Unmanaged.passRetained(job)
        #if canImport(Darwin)
        var thread: pthread_t?
        #else
        var thread = pthread_t()
        #endif
        let status = pthread_create(&thread, &attributes, { raw in
            #if canImport(Darwin)
            let job = Unmanaged<Job>.fromOpaque(raw).takeRetainedValue()
            #else
            guard let raw else { return nil }
            let job = Unmanaged<Job>.fromOpaque(raw).takeRetainedValue()
            #endif
            job.work()
            return nil
        }, context.toOpaque())
        guard status == 0 else {
            context.release()
            return false
        }
        #if canImport(Darwin)
        guard let thread else { return true }
        #endif
        pthread_join(thread, nil)
        return true
    }
}
