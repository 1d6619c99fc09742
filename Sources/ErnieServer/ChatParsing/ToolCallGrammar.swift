import ErnieGrammar

/// The grammar of ERNIE tool-call blocks (the chat template's format):
/// `<tool_call>\n{"name": "<function>", "arguments": <JSON valid under its parameters>}\n</tool_call>`,
/// one block for a named function, one or more (newline-separated) for `tool_choice: required`.
enum ToolCallGrammar {
    static func grammar(_ constraint: ToolCallConstraint, tags: ErnieTags) throws -> Grammar {
        var builder = GrammarBuilder()
        var calls: [GrammarExpr] = []
        for function in constraint.functions {
            let schema = try SchemaJSON.parse(function.parameters ?? #"{"type": "object"}"#)
            let arguments = try JSONSchemaCompiler.expression(for: schema, into: &builder)
            let body = GrammarExpr.sequence([
                tags.expr("<tool_call>"), .literal("\n{\"name\": " + SchemaJSON.quoted(function.name) + ", \"arguments\": "),
                arguments, .literal("}\n"), tags.expr("</tool_call>"),
            ])
            calls.append(.rule(builder.add("call_" + function.name.filter { $0.isLetter || $0.isNumber }, body)))
        }
        guard !calls.isEmpty else { throw GrammarError.invalidGrammar("no function to call") }
        let call = calls.count == 1 ? calls[0] : GrammarExpr.choice(calls)
        let separator = GrammarExpr.repetition(.literal("\n"), min: 1, max: 2)
        let sequence: GrammarExpr =
            constraint.single ? call : .sequence([call, .zeroOrMore(.sequence([separator, call]))])
        let root = builder.add(
            "tool_calls",
            .sequence([.repetition(.literal("\n"), min: 0, max: 2), sequence, .optional(.literal("\n"))]))
        return try builder.build(root: root)
    }
}
