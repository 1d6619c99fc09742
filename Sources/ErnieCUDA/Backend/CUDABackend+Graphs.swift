/// Decode steps through CUDA graphs, invisible to the forward pass.
///
/// A pure decode step (every sequence adds one token) of at most `PerfOptions.graphMaxBatch` tokens is padded to its
/// batch bucket: the step metadata goes to fixed device addresses (padding tokens: id 0, position 0, KV slot −1),
/// every op of the body (embedding → last layer) processes the bucket's rows, and the body's activations come from
/// the arena, whose addresses repeat from step to step. The first step of a bucket runs eagerly while its launches
/// are recorded; when the body ends (the first op after it: `gatherRows`, sampling, a host read, `endStep`) they are
/// captured into a graph. Later steps of that bucket launch the graph as soon as the metadata is uploaded, and the
/// op calls that follow only build their launches and compare them with the recording; should one differ, every
/// launch of the step so far is run eagerly after the graph (which rewrites everything the graph wrote: this step's
/// activations and KV slots) and the bucket is recorded afresh.
extension CUDABackend {
    /// Issues a launch according to the step's body mode.
    func submit(_ launch: QueuedLaunch) throws {
        if !launchState.inBodyOp { try finishBody() }
        switch launchState.mode {
        case .eager:
            try runNow(launch)
        case let .recording(recording):
            try runNow(launch)
            recording.launches.append(launch)
        case let .replaying(recording):
            let cursor = launchState.cursor
            if cursor < recording.launches.count, recording.launches[cursor].signature == launch.signature {
                launchState.pending.append(launch)
                launchState.cursor += 1
            } else {
                try fallBack(recording)
                try runNow(launch)
            }
        }
    }

    /// Runs an op of the step's body: its launches may be recorded or replayed, its activations come from the arena.
    func bodyOp<T>(_ body: () throws -> T) rethrows -> T {
        let outer = launchState.inBodyOp
        launchState.inBodyOp = true
        defer { launchState.inBodyOp = outer }
        return try body()
    }

    /// Called by an op of the body that has no graph-safe path for this step (host round trip, host-planned launch
    /// shape): the step continues eagerly and the bucket is not recorded again.
    func bodyIsNotGraphable() throws {
        switch launchState.mode {
        case .eager:
            return
        case let .recording(recording):
            launchState.mode = .eager
            launchState.notGraphable.insert(recording.bucket)
            launchState.statistics.notGraphable += 1
        case let .replaying(recording):
            try fallBack(recording)
        }
    }

    /// Ends the body of the step: captures the recorded launches as a graph, or checks that the replay saw them all.
    func finishBody() throws {
        switch launchState.mode {
        case .eager:
            return
        case let .recording(recording):
            launchState.mode = .eager
            guard !arena.didOverflow, !recording.launches.isEmpty else { return }
            do {
                let launches = recording.launches
                recording.graph = try CUDAGraph.capture(on: captureStream, nodeCount: launches.count) { s in
                    for launch in launches { try launch.run(s, true) }
                }
                launchState.graphs[recording.bucket] = recording
                launchState.statistics.captures += 1
            } catch {
                launchState.notGraphable.insert(recording.bucket)
                launchState.statistics.notGraphable += 1
                if launchState.captureError == nil { launchState.captureError = "\(error)" }
            }
        case let .replaying(recording):
            if launchState.cursor == recording.launches.count {
                launchState.mode = .eager
                launchState.pending = []
                launchState.statistics.replays += 1
            } else {
                try fallBack(recording)
            }
        }
    }

    /// The replayed graph did not match this step: run the step's launches so far eagerly and re-record the bucket.
    private func fallBack(_ recording: DecodeGraphRecording) throws {
        launchState.mode = .eager
        launchState.statistics.fallbacks += 1
        launchState.graphs[recording.bucket] = nil
        let pending = launchState.pending
        launchState.pending = []
        for launch in pending { try runNow(launch) }
    }

    /// Issues a launch on the backend's stream now (with profiling events when a profile is being taken).
    func runNow(_ launch: QueuedLaunch) throws {
        if let profiler {
            try profiler.measure(launch, on: stream)
        } else {
            try launch.run(stream, false)
        }
    }

    /// The bucket a decode step of `tokens` tokens runs in, or nil when it runs eagerly (graphs off, too large, or
    /// the bucket could not be recorded). Drops graphs captured against a moved arena or KV cache first.
    func graphBucket(forDecodeTokens tokens: Int) -> Int? {
        guard perf.graphs, let bucket = perf.graphBucket(for: tokens) else { return nil }
        if launchState.graphsArenaGeneration != arena.generation || launchState.graphsEpoch != graphEpoch {
            launchState.graphs.removeAll()
            launchState.notGraphable.removeAll()
            launchState.graphsArenaGeneration = arena.generation
            launchState.graphsEpoch = graphEpoch
        }
        return launchState.notGraphable.contains(bucket) ? nil : bucket
    }

    /// Sets the body mode for a new step: `bucket` is the padded batch of a graph-eligible decode step, or nil.
    /// Call after the step's metadata is uploaded (a replay launches the graph here).
    func beginBody(bucket: Int?) throws {
        launchState.mode = .eager
        launchState.cursor = 0
        launchState.pending = []
        guard let bucket else { return }
        if launchState.graphsArenaGeneration != arena.generation || launchState.graphsEpoch != graphEpoch {
            // The arena grew while this step was prepared: nothing captured before is valid.
            launchState.graphs.removeAll()
            launchState.graphsArenaGeneration = arena.generation
            launchState.graphsEpoch = graphEpoch
        }
        if let recording = launchState.graphs[bucket], let graph = recording.graph {
            try graph.launch(on: stream)
            launchState.mode = .replaying(recording)
        } else {
            launchState.mode = .recording(DecodeGraphRecording(bucket: bucket))
        }
    }

    /// Graph counters since the backend was created.
    public var graphStatistics: GraphStatistics { launchState.statistics }

    /// The first graph-capture error, if any (reports).
    public var graphCaptureError: String? { launchState.captureError }

    /// Drops every captured graph (the KV cache or the arena moved, or a test wants a fresh start).
    func invalidateGraphs() {
        graphEpoch += 1
    }
}
