"""Real servers for the ``cluster`` tests and benchmarks: a throw-away PostgreSQL cluster and
a Ray cluster of several nodes on this machine.

PostgreSQL: ``initdb`` in a temp dir, ``pg_ctl start`` on 127.0.0.1 and a free port, trust
auth, stopped and deleted afterwards. PostgreSQL refuses to run as root, so as root its
binaries run as the ``postgres`` user (``runuser``), which owns the temp dir.

Ray: ``ray start --head`` and ``ray start --address=...`` each with ``--block`` in its own
process group (so a node can be killed whole, as a crashed machine would be), its own
ports, ``--num-cpus``, custom resources and a small object store.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    """This worktree's faultlab first on the path (before any installed copy)."""
    env = {**os.environ, **extra}
    # The test cluster listens on 127.0.0.1 only: no token auth (Ray 2.5x+ `ray start`
    # turns it on by default; a real cluster keeps it on, see the README)
    env["RAY_AUTH_MODE"] = "disabled"
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("MPLBACKEND", "Agg")
    return env


# --- PostgreSQL ---------------------------------------------------------------------------------


def pg_bindir() -> Path | None:
    """Directory of initdb/pg_ctl: on PATH, or Debian's /usr/lib/postgresql/<v>/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
    return Path(dirs[-1]) if dirs and (Path(dirs[-1]) / "initdb").exists() else None


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Start a throw-away PostgreSQL server; yields its SQLAlchemy URL."""
    bindir = pg_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL binaries not found (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="fl-pg-"))
    as_root = os.geteuid() == 0
    prefix: list[str] = []
    if as_root:  # postgres will not run as root
        pw = pwd.getpwnam("postgres")
        os.chown(root, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()

    def run(*cmd: str) -> None:
        subprocess.run([*prefix, *cmd], check=True, capture_output=True, timeout=120)

    try:
        run(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )
        opts = (
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
        )
        run(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(root / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            opts,
            "start",
        )
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        with contextlib.suppress(Exception):
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


# --- Ray ----------------------------------------------------------------------------------------


@dataclass
class RayNode:
    name: str
    proc: subprocess.Popen
    log: Path
    node_manager_port: int
    node_id: str | None = None

    def kill(self) -> None:
        """SIGKILL every process of the node, as a crashed machine would lose them: the
        process group of ``ray start`` (raylet, its agents), then the rest of its session.
        Ray starts each worker in a process group of its own, so killing the group alone
        left the workers running: the run in flight could finish after the "kill" (and
        return its result to the driver directly), or not, depending on how soon the
        orphaned worker noticed its raylet was gone."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for _ in range(20):  # a worker being started meanwhile is found by the next pass
            rest = _session_members(self.proc.pid)
            if not rest:
                break
            for pid in rest:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=30)


def _session_members(sid: int) -> list[int]:
    """Live (not zombie) processes of session ``sid``, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # gone meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # state, ppid, pgrp, session, ...
        if fields[0] != "Z" and int(fields[3]) == sid:
            found.append(int(entry))
    return found


@dataclass
class RayCluster:
    address: str
    temp_dir: Path
    nodes: list[RayNode] = field(default_factory=list)

    def node(self, name: str) -> RayNode:
        return next(n for n in self.nodes if n.name == name)


def _ports() -> list[str]:
    """Every port a node opens, chosen free (two nodes on one host must not collide)."""
    p = [free_port() for _ in range(7)]
    lo = free_port()
    return [
        "--node-manager-port",
        str(p[0]),
        "--object-manager-port",
        str(p[1]),
        "--metrics-export-port",
        str(p[2]),
        "--dashboard-agent-listen-port",
        str(p[3]),
        "--dashboard-agent-grpc-port",
        str(p[4]),
        "--runtime-env-agent-port",
        str(p[5]),
        "--min-worker-port",
        str(lo),
        "--max-worker-port",
        str(lo + 40),
    ]


def _ray_bin() -> str:
    return str(Path(sys.executable).with_name("ray"))


def start_node(
    name: str,
    temp_dir: Path,
    head_port: int | None = None,
    address: str | None = None,
    num_cpus: int = 1,
    object_store_mb: int = 100,
) -> RayNode:
    ports = _ports()
    cmd = [
        _ray_bin(),
        "start",
        "--block",
        "--disable-usage-stats",
        f"--num-cpus={num_cpus}",
        f"--resources={json.dumps({name: 1})}",
        f"--object-store-memory={object_store_mb * 1024 * 1024}",
        *ports,
    ]
    if head_port is not None:
        cmd += [
            "--head",
            f"--port={head_port}",
            "--node-ip-address=127.0.0.1",
            "--include-dashboard=false",
            f"--temp-dir={temp_dir}",
        ]
    else:
        cmd += [f"--address={address}", "--node-ip-address=127.0.0.1"]
    log = temp_dir.parent / f"{name}.log"
    env = child_env(
        # a dead node is noticed in ~3 s instead of ~15 s
        RAY_health_check_period_ms="1000",
        RAY_health_check_timeout_ms="1000",
        RAY_health_check_failure_threshold="3",
        OMP_NUM_THREADS="1",
    )
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    return RayNode(name, proc, log, int(ports[1]))


def alive_nodes(address: str, timeout: float = 60) -> dict[str, str]:
    """Custom resource name -> node id of every alive node (asked in a fresh driver)."""
    code = (
        f"import json, ray; ray.init(address={address!r}, configure_logging=False, "
        "log_to_driver=False); print(json.dumps({k: n['NodeID'] for n in ray.nodes() "
        "if n['Alive'] for k in n['Resources'] if k in ('head', 'extra', 'extra2')}))"
    )
    try:
        res = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=child_env(),
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {}
    if res.returncode != 0:
        return {}
    return json.loads(res.stdout.strip().splitlines()[-1])


#: A Ray driver (own job) whose one task takes every CPU of the node with custom resource
#: argv[2] and holds it until the file argv[4] exists; it touches argv[3] once it holds them.
_HOLD = """
import sys, time
from pathlib import Path
import ray

address, node, started, release, cpus = sys.argv[1:6]
ray.init(address=address, configure_logging=False, log_to_driver=False)


@ray.remote(num_cpus=float(cpus), resources={node: 1})
def hold(started: str, release: str) -> None:
    Path(started).touch()
    while not Path(release).exists():
        time.sleep(0.05)


ray.get(hold.remote(started, release))
"""


@contextlib.contextmanager
def hold_node(cluster: RayCluster, name: str, num_cpus: int = 1) -> Iterator[Callable[[], None]]:
    """Keep node ``name``'s ``num_cpus`` CPUs busy with another job's task until the yielded
    ``release()`` is called (or the block ends): meanwhile every task of other jobs runs on
    the other nodes. Why: a test that must catch a node inside its second run waits for a
    moment that, with both nodes free, may never come (the other node can take every
    remaining run first on a loaded machine); with this node held it comes for sure."""
    marks = Path(tempfile.mkdtemp(prefix="fl-hold-"))
    started, release_file, log = marks / "started", marks / "release", marks / "hold.log"
    args = [cluster.address, name, str(started), str(release_file), str(num_cpus)]
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-c", _HOLD, *args],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=child_env(),
        )

    def release() -> None:
        release_file.touch()

    try:
        deadline = time.time() + 180
        while not started.exists():
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"could not hold node {name!r}: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield release
    finally:
        release()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(marks, ignore_errors=True)


@contextlib.contextmanager
def ray_cluster(extra_nodes: int = 1, num_cpus: int = 1) -> Iterator[RayCluster]:
    """A head (resource ``head``) and ``extra_nodes`` more (``extra``, ``extra2``), all up."""
    base = Path(tempfile.mkdtemp(prefix="fl-ray-"))
    temp_dir = base / "t"  # short: Ray's unix socket paths must stay < 108 chars
    temp_dir.mkdir()
    port = free_port()
    address = f"127.0.0.1:{port}"
    cluster = RayCluster(address, temp_dir)
    try:
        cluster.nodes.append(start_node("head", temp_dir, head_port=port, num_cpus=num_cpus))
        names = ["extra", "extra2"][:extra_nodes]
        deadline = time.time() + 240
        while time.time() < deadline:  # the head is registered (not only its GCS port)
            if cluster.nodes[0].proc.poll() is not None:
                raise RuntimeError(f"ray head exited: {cluster.nodes[0].log.read_text()[-2000:]}")
            if "head" in alive_nodes(address, timeout=30):
                break
            time.sleep(1)
        for name in names:
            cluster.nodes.append(start_node(name, temp_dir, address=address, num_cpus=num_cpus))
        restarts = 0
        while time.time() < deadline:
            ids = alive_nodes(address, timeout=30)
            if all(n.name in ids for n in cluster.nodes):
                for n in cluster.nodes:
                    n.node_id = ids[n.name]
                break
            for i, n in enumerate(cluster.nodes[1:], 1):
                # `ray start` gives a raylet 30 s to register; on a loaded machine, try again
                if n.proc.poll() is not None and restarts < 2:
                    restarts += 1
                    cluster.nodes[i] = start_node(
                        n.name, temp_dir, address=address, num_cpus=num_cpus
                    )
            time.sleep(1)
        else:
            logs = "\n".join(n.log.read_text()[-1500:] for n in cluster.nodes)
            raise RuntimeError(f"ray nodes did not all come up:\n{logs}")
        yield cluster
    finally:
        for n in reversed(cluster.nodes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(n.proc.pid, signal.SIGTERM)
        for n in reversed(cluster.nodes):
            with contextlib.suppress(subprocess.TimeoutExpired):
                n.proc.wait(timeout=8)
            n.kill()  # stragglers of the group and the node's workers
        shutil.rmtree(base, ignore_errors=True)
