import Hummingbird
import NIOCore
import NIOPosix

extension ServerContext {
    /// Reads the whole request body (at most `maxBodyBytes`, else 413) and parses it as JSON (400 when it is not).
    func readBody(_ request: Request) async throws(APIError) -> [UInt8] {
        let limit = configuration.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw .bodyTooLarge(limit: limit)
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw .bodyTooLarge(limit: limit)
        } catch is NIOTooManyBytesError {
            throw .bodyTooLarge(limit: limit)
        } catch {
            throw .badRequest("Could not read the request body: \(error)")
        }
        return Array(buffer.readableBytesView)
    }

    /// Runs `work` on the thread pool when the body is large (parsing and tokenizing megabytes must not hold a
    /// cooperative thread), inline otherwise.
    func prepare<T: Sendable>(
        bodySize: Int, _ work: @escaping @Sendable () throws(APIError) -> T
    ) async throws(APIError) -> T {
        guard bodySize > configuration.offloadBodyBytes else { return try work() }
        let result: Result<T, APIError>
        do {
            result = try await NIOThreadPool.singleton.runIfActive {
                do throws(APIError) { return .success(try work()) } catch { return .failure(error) }
            }
        } catch {
            throw .unavailable("The server is shutting down.")
        }
        return try result.get()
    }
}

/// Parses a request body as JSON, answering 400 with the parser's message when it is not valid.
func parseJSONBody(_ bytes: [UInt8]) throws(APIError) -> JSONValue {
    do {
        return try JSONParser.parse(bytes)
    } catch {
        throw APIError(
            status: .badRequest, message: "The request body is not valid JSON: \(error)", type: "invalid_request_error",
            code: "invalid_json")
    }
}
