"""Tensor, expert and data parallelism through `ernie serve`, on the CPU (rank threads with the CPU communicator stand
in for GPUs and NCCL): the bundled demo model served with --tp 2, --dp 2 and --tp 2 --dp 2 --ep-size 2 gives
transformers' greedy tokens and log-probabilities (Tests/Fixtures/demo/reference.json, made by
scripts/fixtures/demo/make_demo_fixture.py) for concurrent requests, as one device does (test_demo_model.py), and
/get_server_info and /metrics describe the replicas. Skipped for other models."""
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conftest import assert_matches_transformers, spawn_server

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
with open(os.path.join(ROOT, "Tests", "Fixtures", "demo", "reference.json"), encoding="utf-8") as f:
    CASES = json.load(f)["cases"]

LAYOUTS = {
    "tp2": ["--tp", "2"],
    "dp2": ["--dp", "2"],
    "tp2-dp2-ep2": ["--tp", "2", "--dp", "2", "--ep-size", "2"],
}


def sizes(args):
    value = {"--tp": 1, "--dp": 1, "--ep-size": 1}
    for flag, number in zip(args, args[1:]):
        if flag in value:
            value[flag] = int(number)
    return value["--tp"], value["--dp"], value["--ep-size"]


@pytest.fixture(scope="module", params=list(LAYOUTS), ids=list(LAYOUTS))
def parallel(request, server_info):
    path = os.path.normpath(server_info["model_path"])
    if os.path.basename(path) != "ernie-demo" or server_info["skip_tokenizer_init"]:
        pytest.skip("the server under test does not serve the bundled demo model")
    args = LAYOUTS[request.param]
    # The CPU backend in float32 is what the transformers fixture was made with (tolerance 1e-3).
    with spawn_server(["--device", "cpu", *args]) as (process, url):
        with httpx.Client(base_url=url, headers={"Authorization": "Bearer sk-spawned"}, timeout=300) as client:
            yield sizes(args), client, process


def generate(client, case):
    response = client.post("/generate", json={
        "input_ids": case["prompt_ids"], "return_logprob": True, "logprob_start_len": 0,
        "sampling_params": {"max_new_tokens": len(case["greedy"]), "temperature": 0, "ignore_eos": True}})
    assert response.status_code == 200, response.text
    return response.json()


def test_concurrent_greedy_requests_give_transformers_tokens_and_logprobs(parallel):
    _, client, _ = parallel
    # Every case twice, all at once: batched on each replica and spread over the replicas.
    work = CASES + CASES
    with ThreadPoolExecutor(len(work)) as pool:
        bodies = list(pool.map(lambda case: generate(client, case), work))
    for case, body in zip(work, bodies):
        assert_matches_transformers(body, case)


def test_server_info_and_metrics_describe_the_replicas(parallel):
    (tp, dp, ep), client, process = parallel
    info = client.get("/get_server_info").json()
    assert (info["tp_size"], info["dp_size"], info["ep_size"]) == (tp, dp, ep)
    states = info["internal_states"]
    assert [state["dp_rank"] for state in states] == list(range(dp))
    per_replica = states[0]["max_total_num_tokens"]
    assert all(state["max_total_num_tokens"] == per_replica for state in states)
    metrics = client.get("/metrics").text
    match = re.search(r"^ernie:max_total_num_tokens\{[^}]*\} (\S+)$", metrics, re.MULTILINE)
    assert match and float(match.group(1)) == per_replica * dp
    startup = "".join(process.output_lines)
    assert len(re.findall(r"KV cache reserved", startup)) == dp
    if tp > 1:
        assert f"{tp} × CPU" in startup and "tensor-parallel" in startup


def test_requests_reach_every_replica(parallel):
    (_, dp, _), client, _ = parallel
    if dp == 1:
        pytest.skip("one replica")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda case: generate(client, case), CASES[:4] * 2))
    states = client.get("/get_server_info").json()["internal_states"]
    # Each replica keeps the prompts it served in its own prefix cache.
    assert all(state["num_cached_tokens"] > 0 for state in states), states
