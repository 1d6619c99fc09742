/// Splits ERNIE-4.5 model output into reasoning, answer text and tool calls, incrementally (`--reasoning-parser
/// ernie45`, `--tool-call-parser ernie45`).
///
/// The format (reference §5): `reasoning\n</think>\n\n<response>\nanswer\n</response>\n`, or `reasoning\n</think>\nanswer`,
/// with tool calls as `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>` blocks. With reasoning, text
/// before `</think>` is reasoning (all of it when `</think>` never comes, as the Thinking template opens the think
/// block itself); after it, leading newlines go and a `<response>...</response>` wrapper is removed. With tools,
/// each well-formed block becomes a tool call; its arguments are streamed as they arrive, checked byte by byte to be
/// one JSON object. Text that does not fit the format is content: a block that turns out malformed before its name
/// is known is given back as content; one that breaks later ends as `toolCallFailed` (see there).
///
/// Input is bytes in any chunking (even inside a UTF-8 character); the events depend only on the concatenated
/// input, except for where text events are split.
struct ErnieOutputParser {
    enum Event: Equatable {
        case reasoning(String)
        case content(String)
        case toolCallBegin(index: Int, id: String, name: String)
        case toolCallArguments(index: Int, String)
        case toolCallEnd(index: Int)
        /// A tool call whose arguments or closing tag turned out malformed (or the output ended inside it).
        /// `remainder` is the block's text not yet streamed as arguments; `raw` is the whole block, tags included.
        case toolCallFailed(index: Int, remainder: String, raw: String)
    }

    static let thinkStart = Array("<think>".utf8)
    static let thinkEnd = Array("</think>".utf8)
    static let responseStart = Array("<response>".utf8)
    static let responseEnd = Array("</response>".utf8)
    static let toolCallStart = Array("<tool_call>".utf8)
    static let toolCallEnd = Array("</tool_call>".utf8)

    private enum Mode {
        case start, reasoning, afterThink, response, afterResponse, content, toolCall
    }

    private enum CallPhase {
        case header, arguments, trailer
    }

    let parsesReasoning: Bool
    let parsesToolCalls: Bool
    private let makeID: () -> String
    private var mode: Mode
    private var pending: [UInt8] = []
    /// A newline right after `<think>` or `<response>` belongs to the tag (it may arrive in the next chunk).
    private var dropNewline = false
    private var events: [Event] = []
    /// Bytes of text events not yet emitted because they end inside a UTF-8 character.
    private var partialText: [UInt8] = []
    private var partialKind: Int = 0  // 0 reasoning, 1 content, 2 arguments

    // Tool call in progress.
    private var phase = CallPhase.header
    private var callIndex = 0
    private var callRaw: [UInt8] = []
    private var callStreamed = 0
    private var validator = JSONStreamValidator()
    private var callBegun = false

    init(reasoning: Bool, toolCalls: Bool, makeID: @escaping () -> String = ToolCallID.make) {
        parsesReasoning = reasoning
        parsesToolCalls = toolCalls
        self.makeID = makeID
        mode = reasoning ? .start : .content
    }

    /// Feeds output text; returns the events it completes.
    mutating func feed(_ text: String) -> [Event] { feed(bytes: Array(text.utf8)) }

    mutating func feed(bytes: [UInt8]) -> [Event] {
        pending += bytes
        process(final: false)
        return takeEvents()
    }

    /// The output ended: flushes everything held back.
    mutating func finish() -> [Event] {
        process(final: true)
        flushPartial(final: true)
        return takeEvents()
    }

    private mutating func takeEvents() -> [Event] {
        defer { events = [] }
        return events
    }

    // MARK: Modes

    private mutating func process(final: Bool) {
        while true {
            if dropNewline && !pending.isEmpty {
                if pending[0] == 0x0A { pending.removeFirst() }
                dropNewline = false
            }
            let before = (mode, pending.count, phase)
            switch mode {
            case .start: start(final: final)
            case .reasoning: reasoning(final: final)
            case .afterThink, .afterResponse: between(final: final)
            case .response: response(final: final)
            case .content: content(final: final)
            case .toolCall: toolCall(final: final)
            }
            if before.0 == mode && before.1 == pending.count && before.2 == phase { return }
        }
    }

    /// A leading `<think>` (the model repeating the template's opening tag) is dropped.
    private mutating func start(final: Bool) {
        if pending.starts(with: Self.thinkStart) {
            pending.removeFirst(Self.thinkStart.count)
            dropNewline = true
            mode = .reasoning
        } else if !final && Self.thinkStart.starts(with: pending) {
            return  // could still become `<think>`
        } else {
            mode = .reasoning
        }
    }

    private mutating func reasoning(final: Bool) {
        if let end = Self.find(Self.thinkEnd, in: pending) {
            emit(.reasoning, Self.trimmingTrailingNewlines(Array(pending[..<end])), final: true)
            pending.removeFirst(end + Self.thinkEnd.count)
            mode = .afterThink
            return
        }
        let keep = final ? 0 : Self.holdBack(pending, marker: Self.thinkEnd, trailing: Self.newline)
        emit(.reasoning, Array(pending[..<(pending.count - keep)]), final: final)
        pending.removeFirst(pending.count - keep)
    }

    /// After `</think>` or `</response>`: skip whitespace, then a `<response>` wrapper, a tool call, or content.
    private mutating func between(final: Bool) {
        let skipped = pending.prefix { $0 == 0x0A || $0 == 0x0D || $0 == 0x20 || $0 == 0x09 }.count
        pending.removeFirst(skipped)
        if pending.isEmpty {
            if final { mode = .content }
            return
        }
        if mode == .afterThink && pending.starts(with: Self.responseStart) {
            pending.removeFirst(Self.responseStart.count)
            dropNewline = true
            mode = .response
        } else if parsesToolCalls && pending.starts(with: Self.toolCallStart) {
            beginCall()
        } else if !final
            && ((mode == .afterThink && Self.responseStart.starts(with: pending))
                || (parsesToolCalls && Self.toolCallStart.starts(with: pending)))
        {
            return
        } else {
            mode = .content
        }
    }

    private mutating func response(final: Bool) {
        if let end = Self.find(Self.responseEnd, in: pending) {
            emit(.content, Self.trimmingTrailingNewlines(Array(pending[..<end])), final: true)
            pending.removeFirst(end + Self.responseEnd.count)
            mode = .afterResponse
            return
        }
        let keep = final ? 0 : Self.holdBack(pending, marker: Self.responseEnd, trailing: Self.newline)
        emit(.content, Array(pending[..<(pending.count - keep)]), final: final)
        pending.removeFirst(pending.count - keep)
    }

    private mutating func content(final: Bool) {
        guard parsesToolCalls else {
            emit(.content, pending, final: final)
            pending = []
            return
        }
        if let start = Self.find(Self.toolCallStart, in: pending) {
            // Whitespace between the text and the block belongs to neither.
            var text = Array(pending[..<start])
            while let last = text.last, last == 0x0A || last == 0x0D || last == 0x20 || last == 0x09 {
                text.removeLast()
            }
            emit(.content, text, final: true)
            pending.removeFirst(start)
            beginCall()
            return
        }
        let keep = final ? 0 : Self.holdBack(pending, marker: Self.toolCallStart, trailing: Self.whitespace)
        emit(.content, Array(pending[..<(pending.count - keep)]), final: final)
        pending.removeFirst(pending.count - keep)
    }

    // MARK: Tool calls

    private mutating func beginCall() {
        pending.removeFirst(Self.toolCallStart.count)
        callRaw = Self.toolCallStart
        callStreamed = 0
        phase = .header
        validator = JSONStreamValidator()
        callBegun = false
        mode = .toolCall
    }

    private mutating func toolCall(final: Bool) {
        switch phase {
        case .header:
            switch ToolCallHeader.scan(pending) {
            case .needMore:
                if final { failCall() }
            case .mismatch:
                failCall()
            case .matched(let name, let length):
                callRaw += pending[..<length]
                pending.removeFirst(length)
                callStreamed = callRaw.count
                callBegun = true
                events.append(.toolCallBegin(index: callIndex, id: makeID(), name: name))
                phase = .arguments
            }
        case .arguments:
            var consumed = 0
            var outcome = JSONStreamValidator.Step.accepted
            for byte in pending {
                outcome = validator.feed(byte)
                if outcome == .invalid { break }
                consumed += 1
                if outcome == .complete { break }
            }
            if consumed > 0 {
                callRaw += pending[..<consumed]
                emit(.arguments(callIndex), Array(pending[..<consumed]), final: outcome == .complete)
                pending.removeFirst(consumed)
                callStreamed = callRaw.count
            }
            if outcome == .invalid || (final && outcome != .complete) {
                failCall()
            } else if outcome == .complete {
                phase = .trailer
            }
        case .trailer:
            switch ToolCallHeader.scanTrailer(pending) {
            case .needMore:
                if final { failCall() }
            case .mismatch:
                failCall()
            case .matched(_, let length):
                callRaw += pending[..<length]
                pending.removeFirst(length)
                events.append(.toolCallEnd(index: callIndex))
                callIndex += 1
                mode = .afterResponse
            }
        }
    }

    /// The block is not a tool call: before its name is known it is given back as content; after, the call ends as
    /// failed. Parsing resumes as content after the bytes examined so far.
    private mutating func failCall() {
        flushPartial(final: true)
        if callBegun {
            let remainder = Array(callRaw[callStreamed...])
            events.append(
                .toolCallFailed(
                    index: callIndex, remainder: UTF8Text.string(remainder), raw: UTF8Text.string(callRaw)))
            callIndex += 1
        } else {
            emit(.content, callRaw, final: false)
        }
        callRaw = []
        callBegun = false
        mode = .content
        // The text after the tag is re-read as content (it may hold another `<tool_call>`).
    }

    // MARK: Text

    private enum TextKind: Equatable {
        case reasoning, content
        case arguments(Int)
    }

    /// Emits text, holding back a trailing incomplete UTF-8 character unless `final`.
    private mutating func emit(_ kind: TextKind, _ bytes: [UInt8], final: Bool) {
        let code: Int
        switch kind {
        case .reasoning: code = 0
        case .content: code = 1
        case .arguments(let index): code = 2 + index
        }
        if !partialText.isEmpty && partialKind != code { flushPartial(final: true) }
        partialKind = code
        partialText += bytes
        flushPartial(final: final)
    }

    private mutating func flushPartial(final: Bool) {
        guard !partialText.isEmpty else { return }
        let cut = final ? partialText.count : UTF8Text.completePrefixLength(partialText)
        guard cut > 0 else { return }
        let text = UTF8Text.string(Array(partialText[..<cut]))
        partialText.removeFirst(cut)
        switch partialKind {
        case 0: events.append(.reasoning(text))
        case 1: events.append(.content(text))
        default: events.append(.toolCallArguments(index: partialKind - 2, text))
        }
    }

    // MARK: Byte helpers

    static func find(_ marker: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= marker.count else { return nil }
        var i = 0
        while i + marker.count <= bytes.count {
            if bytes[i] == marker[0] && bytes[i..<(i + marker.count)].elementsEqual(marker) { return i }
            i += 1
        }
        return nil
    }

    /// Length of the longest suffix that could still become `marker` (a proper prefix of it), together with the
    /// run of `trailing` bytes right before it (dropped when the marker does come).
    static func holdBack(_ bytes: [UInt8], marker: [UInt8], trailing: [UInt8]) -> Int {
        var keep = min(marker.count - 1, bytes.count)
        while keep > 0 && !bytes[(bytes.count - keep)...].elementsEqual(marker[..<keep]) { keep -= 1 }
        while keep < bytes.count && trailing.contains(bytes[bytes.count - keep - 1]) { keep += 1 }
        return keep
    }

    static let newline: [UInt8] = [0x0A]
    static let whitespace: [UInt8] = [0x0A, 0x0D, 0x20, 0x09]

    static func trimmingTrailingNewlines(_ bytes: [UInt8]) -> [UInt8] {
        var end = bytes.count
        while end > 0 && bytes[end - 1] == 0x0A { end -= 1 }
        return Array(bytes[..<end])
    }
}

/// Ids of tool calls: `call_` and 24 random letters and digits.
enum ToolCallID {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

    @Sendable static func make() -> String {
        "call_" + String((0..<24).map { _ in alphabet.randomElement()! })
    }
}
