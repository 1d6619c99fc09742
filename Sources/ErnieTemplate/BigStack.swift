#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#elseif canImport(Musl)
    import Musl
#endif

/// Runs parsing and rendering on long-lived worker threads with large stacks, whatever thread the caller is on
/// (Swift concurrency and event-loop threads may have as little as 512 KiB). The interpreter also checks the stack
/// it has left (see `stackFloor`), so even a hostile template stops with an error instead of overflowing.
enum BigStack {
    /// Stack size of the worker threads.
    static let stackSize = 32 << 20
    /// Bytes left unused below the floor, for frames that do not check (runtime calls, releasing values).
    static let reserve = 4 << 20
    /// Budget when no worker thread could be started and the work runs on the caller's stack.
    static let fallbackBudget = 192 << 10

    private static let pool = WorkerPool()

    /// The address of a frame of the current thread's stack (stacks grow down).
    @inline(never)
    static func currentAddress() -> UInt {
        var marker: UInt8 = 0
        return withUnsafeMutablePointer(to: &marker) { UInt(bitPattern: $0) }
    }

    /// Runs `body` on a worker thread, blocking until it finishes. `body` gets the lowest stack address it may use.
    static func run<T>(_ body: (_ stackFloor: UInt) throws -> T) throws -> T {
        var result: Result<T, any Error>?
        withoutActuallyEscaping(body) { body in
            if let worker = pool.take() {
                worker.run {
                    let top = currentAddress()
                    result = Result { try body(top - UInt(stackSize - reserve)) }
                }
                pool.give(worker)
            } else {
                let top = currentAddress()
                result = Result { try body(top - UInt(fallbackBudget)) }
            }
        }
        guard let result else { throw TemplateError.runtime("internal error: render thread produced no result") }
        return try result.get()
    }
}

/// Idle workers, reused across renders; at most `maxIdle` are kept.
private final class WorkerPool: @unchecked Sendable {
    // @unchecked Sendable: `idle` is only read or written with `lock` held.
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var idle: [Worker] = []
    private let maxIdle = 16

    init() {
        pthread_mutex_init(lock, nil)
    }

    func take() -> Worker? {
        pthread_mutex_lock(lock)
        let worker = idle.popLast()
        pthread_mutex_unlock(lock)
        return worker ?? Worker.start()
    }

    func give(_ worker: Worker) {
        pthread_mutex_lock(lock)
        if idle.count < maxIdle {
            idle.append(worker)
            pthread_mutex_unlock(lock)
        } else {
            pthread_mutex_unlock(lock)
            worker.stop()
        }
    }
}

/// One thread with a large stack that runs jobs handed to it, one at a time.
private final class Worker: @unchecked Sendable {
    // @unchecked Sendable: `job`, `finished` and `exiting` are only accessed with `lock` held; a job is handed over
    // and the caller waits for `finished` before touching anything the job uses, so the job never runs concurrently
    // with its caller.
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let signal = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var job: (() -> Void)?
    private var finished = false
    private var exiting = false

    private init() {
        pthread_mutex_init(lock, nil)
        pthread_cond_init(signal, nil)
    }

    deinit {
        pthread_cond_destroy(signal)
        pthread_mutex_destroy(lock)
        signal.deallocate()
        lock.deallocate()
    }

    static func start() -> Worker? {
        let worker = Worker()
        var attributes = pthread_attr_t()
        guard pthread_attr_init(&attributes) == 0 else { return nil }
        defer { pthread_attr_destroy(&attributes) }
        guard pthread_attr_setstacksize(&attributes, BigStack.stackSize) == 0,
            pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED)) == 0
        else { return nil }
        let context = Unmanaged.passRetained(worker)
        #if canImport(Darwin)
            var thread: pthread_t?
        #else
            var thread = pthread_t()
        #endif
        let status = pthread_create(
            &thread, &attributes,
            { raw in
                #if canImport(Darwin)
                    Unmanaged<Worker>.fromOpaque(raw).takeRetainedValue().loop()
                #else
                    if let raw { Unmanaged<Worker>.fromOpaque(raw).takeRetainedValue().loop() }
                #endif
                return nil
            }, context.toOpaque())
        guard status == 0 else {
            context.release()
            return nil
        }
        return worker
    }

    private func loop() {
        pthread_mutex_lock(lock)
        while true {
            while job == nil && !exiting { pthread_cond_wait(signal, lock) }
            guard let work = job else { break }
            pthread_mutex_unlock(lock)
            work()
            pthread_mutex_lock(lock)
            job = nil
            finished = true
            pthread_cond_broadcast(signal)
        }
        pthread_mutex_unlock(lock)
    }

    /// Runs `work` on this worker and waits for it.
    func run(_ work: @escaping () -> Void) {
        pthread_mutex_lock(lock)
        finished = false
        job = work
        pthread_cond_broadcast(signal)
        while !finished { pthread_cond_wait(signal, lock) }
        pthread_mutex_unlock(lock)
    }

    func stop() {
        pthread_mutex_lock(lock)
        exiting = true
        pthread_cond_broadcast(signal)
        pthread_mutex_unlock(lock)
    }
}
