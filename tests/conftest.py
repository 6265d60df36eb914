"""Fixtures shared by the whole suite: a real mosquitto broker, configured from shipped templates.

`broker` starts mosquitto on free loopback ports with `systemd/mosquitto/hotpress.conf`,
`hotpress-tls.conf` and `hotpress.acl` rendered into a private directory, with three accounts made
by `mosquitto_passwd`: the press (username == press id, as the ACL expects), an operator and a
viewer. It is stopped by PID at teardown. The TLS listener uses a throwaway CA and a server
certificate for DNS:localhost and IP:127.0.0.1, made once per session with the openssl CLI.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = REPO / "systemd" / "mosquitto"
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
BROKER_START_TIMEOUT_S = 10.0
PRESS_ID = "press-t1"  # the press account's username is its press id (see hotpress.acl)
OPERATOR = "alice"
VIEWER = "victor"


def free_port() -> int:
    """A TCP port free on loopback right now (the broker binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Broker:
    """A running mosquitto; `stop()` / `start()` to simulate an outage on the same ports."""

    dir: Path
    port: int
    tls_port: int
    passwords: dict[str, str]
    press_id: str = PRESS_ID
    operator: str = OPERATOR
    viewer: str = VIEWER
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)
    console_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.dir / "mosquitto.log"  # written by mosquitto (log_dest file)
        self.console_path = self.dir / "console.log"  # its stdout/stderr: errors before logging

    @property
    def ca_file(self) -> Path:
        return self.dir / "certs" / "ca.crt"

    def start(self) -> None:
        """Start mosquitto and wait until both listeners accept connections."""
        log = open(self.console_path, "ab")  # noqa: SIM115 - the child keeps its own copy
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.dir / "mosquitto.conf")],
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + BROKER_START_TIMEOUT_S
        for port in (self.port, self.tls_port):
            while not _accepts(port):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"mosquitto did not start:\n{self.log()}")
                time.sleep(0.02)

    def stop(self) -> None:
        """Terminate the broker by its PID and wait for it to exit."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def log(self) -> str:
        """Everything mosquitto said, for failure messages."""
        paths = (self.console_path, self.log_path)
        return "".join(p.read_text(errors="replace") for p in paths if p.exists())

    def password_file(self, user: str, dest_dir: Path) -> Path:
        """A 0600 file holding `user`'s password, as the daemon's config points to."""
        path = dest_dir / f"{user}.password"
        path.write_text(self.passwords[user] + "\n")
        path.chmod(0o600)
        return path


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _run(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory with a throwaway ca.crt, and server.crt/server.key for localhost/127.0.0.1."""
    if shutil.which("openssl") is None:
        pytest.fail("the openssl CLI is needed to make test certificates (apt-get install openssl)")
    d = tmp_path_factory.mktemp("tls")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _run("openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
         "-subj", "/CN=hotpress test CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    _run("openssl", "req", *ec, "-keyout", "server.key", "-out", "server.csr",
         "-subj", "/CN=localhost", cwd=d)
    (d / "ext.cnf").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    _run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    return d


def render_broker_config(etc_dir: Path, port: int, tls_port: int) -> str:
    """hotpress.conf + hotpress-tls.conf with the placeholders filled, logging to a file there."""
    values = {"@PORT@": str(port), "@BIND@": "127.0.0.1", "@TLS_PORT@": str(tls_port),
              "@TLS_BIND@": "127.0.0.1", "@ETC_DIR@": str(etc_dir)}
    text = (TEMPLATES / "hotpress.conf").read_text() + "\n" + \
        (TEMPLATES / "hotpress-tls.conf").read_text()
    for key, value in values.items():
        text = text.replace(key, value)
    return text + f"\n# test only\nlog_dest file {etc_dir / 'mosquitto.log'}\n"


def _make_broker_dir(certs: Path) -> tuple[Path, dict[str, str]]:
    """A private dir with passwd, the ACL and certs, readable by the user mosquitto runs as."""
    d = Path(tempfile.mkdtemp(prefix="hotpress-broker-"))
    (d / "certs").mkdir()
    for name in ("ca.crt", "server.crt", "server.key"):
        shutil.copy(certs / name, d / "certs" / name)
    acl = (TEMPLATES / "hotpress.acl").read_text()
    (d / "hotpress.acl").write_text(acl.replace("@OPERATOR@", OPERATOR).replace("@VIEWER@", VIEWER))
    passwords = {user: secrets.token_hex(12) for user in (PRESS_ID, OPERATOR, VIEWER)}
    for user, password in passwords.items():
        _run("mosquitto_passwd", *(["-c"] if user == PRESS_ID else []), "-b",
             str(d / "passwd"), user, password)
    if os.geteuid() == 0:  # mosquitto started as root drops to `mosquitto` before reading files
        owner = pwd.getpwnam("mosquitto")
        for path in [d, *d.rglob("*")]:
            os.chown(path, owner.pw_uid, owner.pw_gid)
    for path in d.rglob("*"):
        path.chmod(0o700 if path.is_dir() else 0o600)
    return d, passwords


@pytest.fixture
def broker(tls_certs: Path) -> Iterator[Broker]:
    """A fresh mosquitto per test (retained messages never leak between tests)."""
    if not Path(MOSQUITTO).exists():
        pytest.fail("mosquitto is not installed: run scripts/bootstrap.sh (apt-get install "
                    "mosquitto)")
    d, passwords = _make_broker_dir(tls_certs)
    b = Broker(d, free_port(), free_port(), passwords)
    (d / "mosquitto.conf").write_text(render_broker_config(d, b.port, b.tls_port))
    b.start()
    try:
        yield b
    finally:
        b.stop()
        shutil.rmtree(d, ignore_errors=True)
