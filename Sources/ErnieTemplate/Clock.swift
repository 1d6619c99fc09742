#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#elseif canImport(Musl)
    import Musl
#endif

/// `datetime.now().strftime(fmt)` (local time, C locale), as transformers' `strftime_now` global does.
enum Clock {
    static func format(_ format: String, timestamp: Double?) -> String {
        var seconds = time_t(timestamp ?? currentTime())
        var parts = tm()
        localtime_r(&seconds, &parts)
        var size = 256
        while size <= 1 << 16 {
            var buffer = [CChar](repeating: 0, count: size)
            let written = buffer.withUnsafeMutableBufferPointer { cStrftime($0.baseAddress, size, format, &parts) }
            if written > 0 || format.isEmpty {
                return String(decoding: buffer.prefix(written).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            size *= 4
        }
        return ""
    }

    private static func currentTime() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    private static func cStrftime(
        _ buffer: UnsafeMutablePointer<CChar>?, _ size: Int, _ format: String, _ parts: UnsafePointer<tm>
    ) -> Int {
        format.withCString { Int(strftime(buffer, size, $0, parts)) }
    }
}
