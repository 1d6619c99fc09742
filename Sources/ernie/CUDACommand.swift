import ArgumentParser
import ErnieCPU
import ErnieCUDA
import ErnieModel
import Foundation

/// `ernie cuda …`: inspect and verify the CUDA backend on this machine.
struct CUDACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cuda",
        abstract: "Inspect and verify the CUDA backend (libraries, kernels, ops against the CPU backend, models).",
        subcommands: [Info.self, Compile.self, SelfTest.self, Check.self, Bench.self, Profile.self]
    )

    /// Libraries, versions, devices.
    struct Info: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the CUDA libraries found (paths, versions), the devices and the kernel sources."
        )

        func run() async throws {
            let report = CUDAInfo.report()
            print(report.text)
            if !report.deviceFound { throw ExitCode(1) }
        }
    }

    /// NVRTC compilation of every kernel.
    struct Compile: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compile every kernel with NVRTC and report sizes and times (no GPU needed with --arch)."
        )

        @Option(help: "Target architecture (default: the GPU's own, sm_90a on an H100/H200).")
        var arch: String?

        @Flag(help: "Ignore the on-disk kernel cache (the new CUBINs are still stored).")
        var noCache = false

        func run() async throws {
            let architecture = try arch ?? CUDADevice(ordinal: 0).architecture
            let ok = try CUDAInfo.compileAll(architecture: architecture, useCache: !noCache) { print($0) }
            if !ok { throw ExitCode(1) }
        }
    }

    /// The differential op test against the CPU backend.
    struct SelfTest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "selftest",
            abstract: "Run every backend op on the GPU and on the CPU backend with random inputs and compare.",
            discussion: """
                One line per case: status, op, shape group, detail, error (max |a − b| / max |b|, or |Δ logprob| \
                for forward/sample), tolerance, time. Exits 1 when a case fails.
                """
        )

        @Option(help: "Shape groups, comma-separated: \(SelfTestShape.all.map(\.name).joined(separator: ", ")).")
        var shapes: String = SelfTestShape.all.map(\.name).joined(separator: ",")

        @Option(help: "Only these ops, comma-separated: \(CUDASelfTest.ops.joined(separator: ", ")).")
        var op: String?

        func run() async throws {
            let byName = Dictionary(uniqueKeysWithValues: SelfTestShape.all.map { ($0.name, $0) })
            var selected: [SelfTestShape] = []
            for name in shapes.split(separator: ",").map({ String($0).trimmingCharacters(in: .whitespaces) }) {
                guard let shape = byName[name] else {
                    throw ValidationError(
                        "unknown shape group '\(name)'; known: \(byName.keys.sorted().joined(separator: ", "))")
                }
                selected.append(shape)
            }
            var ops: Set<String>?
            if let op {
                let requested = Set(op.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) })
                let unknown = requested.subtracting(CUDASelfTest.ops)
                guard unknown.isEmpty else {
                    throw ValidationError(
                        "unknown op(s) \(unknown.sorted()); known: \(CUDASelfTest.ops.joined(separator: ", "))")
                }
                ops = requested
            }
            let results = CUDASelfTest.run(shapes: selected, ops: ops, reference: { CPUBackend() }) { line in
                print(line)
                fflush(nil)
            }
            print(CUDASelfTest.summary(results))
            if results.isEmpty || results.contains(where: { !$0.passed }) { throw ExitCode(1) }
        }
    }

    /// A model folder against a transformers fixture.
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a fixture's prompts through the model on the GPU and compare with transformers.",
            discussion: """
                The fixture is a reference.json as written by scripts/fixtures/models/make_model_fixtures.py or \
                scripts/gpu/make_fullsize_fixture.py: prompts, prompt_logprobs, greedy, greedy_margins, and \
                optionally hidden_states: then each listed prompt also runs as one prefill step with the residual \
                stream captured after the embedding, after every layer and after the final norm, and a table per \
                prompt compares it with transformers' float32 rows (relative L2 error, max |Δ|, per-token norms; \
                bounds: max(floor, factor × transformers-bf16's own error) per point). Exits 1 when anything is out \
                of bounds.
                """
        )

        @Option(help: "Model folder (config.json + safetensors).")
        var modelPath: String

        @Option(help: "Fixture JSON (default: <model-path>/reference.json).")
        var fixture: String?

        @Option(help: "Bound on the mean |Δ logprob|.")
        var meanTolerance: Float = 0.05

        @Option(help: "Bound on the largest |Δ logprob|.")
        var maxTolerance: Float = 0.5

        @Option(help: "Greedy divergences are allowed where transformers' top-1/top-2 logit margin is below this.")
        var margin: Float = 0.25

        @Option(help: "Hidden states: floor of the relative L2 bound per layer.")
        var hiddenRelL2Floor: Float = HiddenStateTolerance().relL2Floor

        @Option(help: "Hidden states: floor of the max |Δ| bound, as a share of max |reference|.")
        var hiddenMaxAbsFloor: Float = HiddenStateTolerance().maxAbsFloor

        @Option(help: "Hidden states: bounds are at least this multiple of transformers-bf16's own error.")
        var hiddenFactor: Float = HiddenStateTolerance().baselineFactor

        @Flag(help: "Also run the CPU backend on the same fixture (slow for large models).")
        var cpu = false

        @Option(
            help: ArgumentHelp(
                "Also run the model tensor-parallel over this many GPUs (NCCL, decode graphs on) and compare it with "
                    + "transformers and with one GPU; 1 runs the NCCL path with a single rank, which must equal "
                    + "one GPU exactly."))
        var tp: Int?

        @Option(name: .customLong("ep-size"), help: "With --tp: routed experts split over this many groups of ranks.")
        var epSize = 1

        func run() async throws {
            let reference = try FixtureCheck.Reference.load(fixture ?? modelPath + "/reference.json")
            let tolerance = FixtureCheck.Tolerance(mean: meanTolerance, max: maxTolerance)
            let hidden = HiddenStateTolerance(
                relL2Floor: hiddenRelL2Floor, maxAbsFloor: hiddenMaxAbsFloor, baselineFactor: hiddenFactor)
            if let tp {
                try TensorParallelCheck.run(
                    modelPath: modelPath, reference: reference, tp: tp, epSize: epSize, tolerance: tolerance,
                    margin: margin,
                    hiddenTolerance: hidden)
                return
            }
            let backend = try CUDABackend()
            let meter = LoadProgressMeter.standardError()
            let result = try FixtureCheck.run(
                modelDirectory: modelPath, reference: reference, backend: backend, tolerance: tolerance,
                marginThreshold: margin, hiddenTolerance: hidden, progress: meter.handler
            )
            meter.finish(device: backend.deviceDescription)
            for comparison in result.hiddenStates { print(comparison.table) }
            print("cuda  \(result.summary)")
            if cpu {
                let cpuResult = try FixtureCheck.run(
                    modelDirectory: modelPath, reference: reference, backend: CPUBackend(), tolerance: tolerance,
                    marginThreshold: margin, hiddenTolerance: hidden
                )
                for comparison in cpuResult.hiddenStates { print(comparison.table) }
                print("cpu   \(cpuResult.summary)")
            }
            if !result.passed { throw ExitCode(1) }
        }
    }

    /// Forward-step throughput.
    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure decode and prefill throughput of a model (dummy weights by default) on the GPU."
        )

        @Option(help: "Model folder, or a folder with only config.json when --load-format dummy.")
        var modelPath: String

        @Option(help: "auto, safetensors or dummy.")
        var loadFormat: String = "dummy"

        @Option(help: "Decode batch sizes, comma-separated.")
        var batch: String = "1,8,64"

        @Option(help: "Timed decode steps per batch size.")
        var steps: Int = 16

        @Option(help: "Context length (tokens already cached) during decode.")
        var context: Int = 512

        @Option(help: "Prefill chunk length (0 skips the prefill measurement).")
        var prefill: Int = 2048

        @Option(help: "Run tensor-parallel over this many GPUs through NCCL (1: the NCCL path with one rank).")
        var tp: Int?

        @Option(name: .customLong("ep-size"), help: "With --tp: routed experts split over this many groups of ranks.")
        var epSize = 1

        func run() async throws {
            guard let format = LoadFormat(rawValue: loadFormat) else {
                throw ValidationError("--load-format must be one of \(LoadFormat.allCases.map(\.rawValue))")
            }
            let sizes = batch.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !sizes.isEmpty, sizes.allSatisfy({ $0 > 0 }), steps > 0, context >= 0, prefill >= 0 else {
                throw ValidationError("batch sizes, steps, context and prefill must be positive")
            }
            let options = ThroughputBench.Options(
                batchSizes: sizes, decodeSteps: steps, context: context, prefillTokens: prefill
            )
            let pageSize = 16
            let maxTokens = max(prefill, sizes.max() ?? 1, 256)
            if let tp {
                try TensorParallelCheck.bench(
                    modelPath: modelPath, format: format, tp: tp, epSize: epSize, options: options, pageSize: pageSize,
                    maxTokens: maxTokens)
                return
            }
            let backend = try CUDABackend(configuration: .init(maxTokensPerStep: maxTokens))
            print("fast paths: \(backend.perf)")
            let start = Date()
            let executor = try ErnieForward.load(
                directory: modelPath, backend: backend, format: format,
                kvPages: options.pagesNeeded(pageSize: pageSize), pageSize: pageSize
            )
            let memory = try backend.memoryInfo()
            let seconds = String(format: "%.1f", Date().timeIntervalSince(start))
            let free = String(format: "%.1f", Double(memory.free) / 1_073_741_824)
            print(
                "loaded \(modelPath) (\(format.rawValue)) in \(seconds)s on \(backend.deviceDescription); "
                    + "\(free) GiB free"
            )
            _ = try ThroughputBench.run(executor: executor, options: options, probe: { backend.gemmPlanSummary }) {
                line in
                print(line)
                fflush(nil)
            }
            print(backend.graphStatistics.summary)
            print(backend.gemmPlanSummary)
            if let error = backend.graphCaptureError { print("graph capture error: \(error)") }
        }
    }

    /// Per-kernel profile of decode steps against the measured ceilings.
    struct Profile: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time every kernel of decode steps (CUDA events, graphs off) against measured ceilings.",
            discussion: """
                Measures the ceilings first (a 2 GiB device copy, a read-only kernel, an 8192^3 bf16 cuBLASLt \
                GEMM), then for each batch size runs 2 warm-up and --steps profiled decode steps at --context and \
                prints a Markdown table per batch: launches, µs, MB moved, GB/s and TFLOP/s per kernel label, as \
                shares of the ceilings. The fast-path switches (ERNIE_CUDA_*) apply; CUDA graphs are turned off.
                """
        )

        @Option(help: "Model folder, or a folder with only config.json when --load-format dummy.")
        var modelPath: String

        @Option(help: "auto, safetensors or dummy.")
        var loadFormat: String = "dummy"

        @Option(help: "Decode batch sizes, comma-separated.")
        var batch: String = "1,64"

        @Option(help: "Profiled decode steps per batch size.")
        var steps: Int = 4

        @Option(help: "Context length (tokens already cached) during decode.")
        var context: Int = 512

        @Option(help: "Prefill lengths to profile as well (one sequence from position 0), comma-separated.")
        var prefill: String = ""

        @Flag(help: "Skip the ceiling measurement (shares are then against 4650 GB/s and 790 TFLOP/s).")
        var noCeilings = false

        func run() async throws {
            guard let format = LoadFormat(rawValue: loadFormat) else {
                throw ValidationError("--load-format must be one of \(LoadFormat.allCases.map(\.rawValue))")
            }
            let sizes = batch.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            let prefills = prefill.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !sizes.isEmpty || !prefills.isEmpty, sizes.allSatisfy({ $0 > 0 }), prefills.allSatisfy({ $0 > 0 }),
                steps > 0, context >= 0
            else {
                throw ValidationError("batch sizes, prefill lengths, steps and context must be positive")
            }
            var perf = PerfOptions.environment(ProcessInfo.processInfo.environment)
            perf.graphs = false
            let backend = try CUDABackend(
                configuration: .init(
                    maxTokensPerStep: max(sizes.max() ?? 1, prefills.max() ?? 1, 256), perf: perf))
            print("fast paths: \(backend.perf)")
            let ceilings: Ceilings
            if noCeilings {
                ceilings = Ceilings(copyGBps: 4300, readGBps: 4650, gemmTFLOPs: 790, gemmShape: "assumed")
            } else {
                ceilings = try backend.measureCeilings()
            }
            print(ceilings.summary)
            fflush(nil)
            let pageSize = 16
            let pages =
                sizes.map {
                    StepProfile.pagesNeeded(batch: $0, context: context, steps: steps, pageSize: pageSize)
                }.max() ?? 1
            let prefillPages = prefills.map { StepProfile.prefillPagesNeeded(tokens: $0, pageSize: pageSize) }.max() ?? 1
            let executor = try ErnieForward.load(
                directory: modelPath, backend: backend, format: format, kvPages: max(pages, prefillPages),
                pageSize: pageSize)
            var reports: [() throws -> StepProfile.Report] = sizes.map { size in
                { try StepProfile.run(executor: executor, batch: size, context: context, steps: steps) }
            }
            reports += prefills.map { tokens in
                { try StepProfile.runPrefill(executor: executor, tokens: tokens, steps: steps) }
            }
            for report in reports {
                print("")
                print(try report().table(ceilings))
                fflush(nil)
            }
        }
    }
}

