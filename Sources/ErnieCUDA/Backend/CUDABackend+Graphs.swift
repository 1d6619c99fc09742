import ErnieModel

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
///
/// On a rank of a tensor-parallel group, the body's all-reduces are launches like the kernels (recorded, captured,
/// replayed), and the ranks agree on every decision that decides whether a collective is captured
/// (`GraphAgreement`): a replay that stops matching on one rank is re-run eagerly on all of them when the body ends.
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
            } else if launchState.agreedBucket != nil {
                // A rank of a group: re-running the step alone would pair its collectives with the peers' next ones;
                // keep the launches and let the group decide when the body ends.
                launchState.pending.append(launch)
                launchState.mode = .diverged(recording)
            } else {
                try fallBack(recording)
                try runNow(launch)
            }
        case .diverged:
            launchState.pending.append(launch)
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
        case let .replaying(recording), let .diverged(recording):
            // The op needs the results now. Every rank of a group reaches the same op (the decision depends on the
            // step's shape only), so the ranks re-run their collectives together; the end of the body checks it.
            try fallBack(recording)
            if launchState.agreedBucket != nil { launchState.fellBackInBody = true }
        }
    }

    /// Ends the body of the step: captures the recorded launches as a graph, or checks that the replay saw them all;
    /// in a tensor-parallel group, agrees on the outcome with the other ranks first (`GraphAgreement`).
    func finishBody() throws {
        let grouped = launchState.agreedBucket != nil && launchState.agreement != nil
        let outcome: BodyOutcome
        switch launchState.mode {
        case .eager:
            outcome = launchState.fellBackInBody ? .fellBackInBody : .eager
        case let .recording(recording):
            launchState.mode = .eager
            outcome = capture(recording) ? .captured : .eager
        case let .replaying(recording):
            if launchState.cursor == recording.launches.count {
                outcome = .replayed
            } else if grouped {
                launchState.mode = .diverged(recording)
                outcome = .diverged
            } else {
                try fallBack(recording)
                return
            }
        case .diverged:
            outcome = .diverged
        }
        if grouped, let bucket = launchState.agreedBucket, let agreement = launchState.agreement {
            launchState.agreedBucket = nil
            launchState.fellBackInBody = false
            try agree(on: outcome, bucket: bucket, agreement)
        }
        if case .replaying = launchState.mode {
            launchState.mode = .eager
            launchState.pending = []
            launchState.statistics.replays += 1
        }
    }

    /// Captures a recorded body; false when it cannot be replayed (arena overflow, nothing recorded, capture error).
    private func capture(_ recording: DecodeGraphRecording) -> Bool {
        guard !arena.didOverflow, !recording.launches.isEmpty else { return false }
        do {
            let launches = recording.launches
            recording.graph = try CUDAGraph.capture(on: captureStream, nodeCount: launches.count) { s in
                for launch in launches { try launch.run(s, true) }
            }
            launchState.graphs[recording.bucket] = recording
            launchState.statistics.captures += 1
            return true
        } catch {
            launchState.notGraphable.insert(recording.bucket)
            launchState.statistics.notGraphable += 1
            if launchState.captureError == nil { launchState.captureError = "\(error)" }
            return false
        }
    }

    /// The replayed graph did not match this step: run the step's launches so far eagerly and re-record the bucket.
    func fallBack(_ recording: DecodeGraphRecording) throws {
        launchState.mode = .eager
        launchState.statistics.fallbacks += 1
        launchState.graphs[recording.bucket] = nil
        let pending = launchState.pending
        launchState.pending = []
        for launch in pending { try runNow(launch) }
    }

    /// Issues a launch on the backend's stream now (with profiling events when a profile is being taken), or on the
    /// expert stream `perExpert` set (`LaunchState.lane`).
    func runNow(_ launch: QueuedLaunch) throws {
        if let profiler {
            try profiler.measure(launch, on: stream)
        } else {
            try launch.run(launchState.lane ?? stream, false)
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

    /// Sets the body mode for a new step: `bucket` is the padded batch of a graph-eligible decode step, or nil;
    /// `groupBucket` is the bucket the step's shape alone gives (nil when no rank could graph it), at which the ranks
    /// of a tensor-parallel group compare their decisions. Call after the step's metadata is uploaded (a replay
    /// launches the graph here).
    func beginBody(bucket: Int?, groupBucket: Int?) throws {
        launchState.mode = .eager
        launchState.cursor = 0
        launchState.pending = []
        launchState.agreedBucket = nil
        launchState.fellBackInBody = false
        if bucket != nil, launchState.graphsArenaGeneration != arena.generation || launchState.graphsEpoch != graphEpoch
        {
            // The arena grew while this step was prepared: nothing captured before is valid.
            launchState.graphs.removeAll()
            launchState.graphsArenaGeneration = arena.generation
            launchState.graphsEpoch = graphEpoch
        }
        let recording = bucket.flatMap { launchState.graphs[$0] }
        if let groupBucket, let agreement = launchState.agreement {
            let proposal = bucket == nil ? 0 : (recording?.graph != nil ? 2 : 1)
            let proposals = try agreement.values(proposal)
            guard proposals.allSatisfy({ $0 == proposal }) else {
                launchState.statistics.groupDisagreements += 1
                launchState.graphs[groupBucket] = nil
                launchState.notGraphable.insert(groupBucket)
                return
            }
            if bucket != nil { launchState.agreedBucket = groupBucket }
        }
        guard let bucket else { return }
        if let recording, let graph = recording.graph {
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
