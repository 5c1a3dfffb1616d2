"""Challenges 03 and 04: the release pipeline, offline, as one recorded pipeline run.

    python -m forecasting.release --port 5001

deploy: download the champion's files into a folder of their own, with a copy of our entry script
(a CI run's checkout is deleted when the run ends; the server outlives it), stop the server that
serves the old version on this port (its process id is kept in the workspace), start the inference
server on the new folder and wait until it answers. smoke-test: `wth smoke-test`, expecting the
champion's version. The run is tagged with the version it released.

    python -m forecasting.release --port 5002 --stop   # stop the server on a port (staging, after its test)
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time

import mlflow
import psutil
import requests

from .workspace import MODEL, WORKSPACE, champion, connect, pipeline, step

SERVING = WORKSPACE / "serving"
START_S = 120


def server_file(port: int):
    return WORKSPACE / f"endpoint-{port}.json"


def stop(port: int) -> None:
    """Stop the server this release started on `port` before, with its workers."""
    record = server_file(port)
    if not record.exists():
        return
    pid = json.loads(record.read_text())["pid"]
    try:
        server = psutil.Process(pid)
        family = [server, *server.children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    for process in family:
        process.terminate()
    _, alive = psutil.wait_procs(family, timeout=15)
    for process in alive:
        process.kill()
    record.unlink()


def start(folder, port: int) -> None:
    log = open(WORKSPACE / f"endpoint-{port}.log", "ab")
    entry = shutil.copyfile("score.py", folder / "score.py")
    server = subprocess.Popen(["azmlinfsrv", "--entry_script", str(entry), "--model_dir", str(folder), "--port", str(port)],
                              cwd=folder, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              start_new_session=True)
    server_file(port).write_text(json.dumps({"pid": server.pid, "model_dir": str(folder)}))
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the inference server exited with {server.returncode}: see {log.name}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the inference server did not answer within {START_S} s: see {log.name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--stop", action="store_true", help="only stop the server this release started on the port")
    args = parser.parse_args()
    if args.stop:
        stop(args.port)
        return
    client = connect()
    served = champion(client)
    if served is None:
        sys.exit(f"no version of {MODEL} carries the champion tag")
    version, uri = str(served.version), f"http://127.0.0.1:{args.port}/score"
    with pipeline("release", model_version=version, scoring_uri=uri):
        with step("deploy"):
            folder = SERVING / version
            if not folder.exists():
                mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{MODEL}/{version}", dst_path=str(folder))
            stop(args.port)
            start(folder, args.port)
        with step("smoke-test"):
            subprocess.run(["wth", "smoke-test", "--uri", uri, "--expect-version", version], check=True)
    print(f"released {MODEL} version {version} at {uri}")


if __name__ == "__main__":
    main()
