public import ErnieTokenizer

extension TokenVocabulary {
    /// The vocabulary of `tokenizer` for ids below `size` (the engine's sampling limit): text pieces, byte-fallback
    /// tokens and non-special added tokens as text; special added tokens as special.
    public init(tokenizer: Tokenizer, size: Int) {
        let surfaces = tokenizer.tokenSurfaces()
        var entries: [Entry?] = []
        entries.reserveCapacity(min(size, surfaces.count))
        for surface in surfaces.prefix(size) {
            guard let surface else {
                entries.append(nil)
                continue
            }
            let kind: Entry.Kind = surface.kind == .special ? .special : .text
            entries.append(
                Entry(kind: kind, bytes: surface.bytes, runStartBytes: surface.runStartBytes, endsRun: surface.endsRun))
        }
        self.init(entries: entries, size: size)
    }
}
