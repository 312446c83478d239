"""Start, stop and inspect the local split stack.

up      moto server; localstripe (a fake Stripe) behind its proxy, the payments service's
        provider; a PostgreSQL database per service (created, migrated); AWS resources
        provisioned from the declarations; per service a gunicorn web process, a Celery worker
        and an outbox sweep; Celery beat for orders (saga timeouts) and payments (reconciliation);
        nginx as the gateway. Logs go to var/stack/logs/.
        STACK_PAYMENTS_PROVIDER=sandbox runs payments on the sandbox instead (no localstripe).
        --fresh drops the stack's databases first; --no-seed skips the demo catalog.
down    stop every process the stack started (the databases stay).
status  what runs, and where.
restart down, then up; with service names, only those services' processes, stopped and started
        again with the caller's environment (e.g. `PAYMENTS_CAPTURE_AT=shipment ... restart orders`:
        a shop setting read at start).
manage SERVICE COMMAND [ARGS...]  a manage.py command in that service's environment.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import closing, suppress
from pathlib import Path

import psycopg

from config.services import SERVICES
from devstack.gateway import nginx_config

ROOT = Path(__file__).resolve().parent.parent
STACK_DIR = Path(os.environ.get("SHOPSTACK_STACK_DIR", ROOT / "var" / "stack"))
LOG_DIR = STACK_DIR / "logs"
RUN_DIR = STACK_DIR / "run"
# Where the moto server writes the requests it records (bench/checkout.py counts AWS calls there).
MOTO_RECORDING = RUN_DIR / "moto-recording.jsonl"
BIN = Path(sys.executable).parent
PG_URL = os.environ.get("STACK_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
MOTO_PORT = int(os.environ.get("STACK_MOTO_PORT", "5100"))
GATEWAY_PORT = int(os.environ.get("STACK_GATEWAY_PORT", "8080"))
DB_PREFIX = os.environ.get("STACK_DB_PREFIX", "shopstack_stack")
# The payments provider: `stripe` (localstripe behind devstack/localstripe.py's proxy, on
# LOCALSTRIPE_PORT and the next port) or `sandbox`.
PAYMENTS_PROVIDER = os.environ.get("STACK_PAYMENTS_PROVIDER", "stripe")
LOCALSTRIPE_PORT = int(os.environ.get("STACK_LOCALSTRIPE_PORT", "8420"))
# A test-mode key (localstripe takes any `sk_` key) and the webhook endpoint's signing secret.
STRIPE_SECRET_KEY = "sk_test_shopstack_stack"
STRIPE_WEBHOOK_PATH = "/api/v1/payments/webhooks/stripe/"


def database_url(service: str) -> str:
    return PG_URL.rsplit("/", 1)[0] + f"/{DB_PREFIX}_{service}"


def _secret() -> str:
    path = RUN_DIR / "secret-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text()


def stripe_webhook_secret() -> str:
    """The webhook's signing secret: STACK_STRIPE_WEBHOOK_SECRET (the tests sign events with it),
    else one made for this stack and kept in its run directory."""
    given = os.environ.get("STACK_STRIPE_WEBHOOK_SECRET")
    if given:
        return given
    path = RUN_DIR / "stripe-webhook-secret"
    if not path.exists():
        path.write_text("whsec_" + secrets.token_urlsafe(32))
    return path.read_text()


def payments_env() -> dict[str, str]:
    """The payments service's provider settings."""
    if PAYMENTS_PROVIDER == "sandbox":
        return {"PAYMENTS_PROVIDER": "sandbox"}
    return {
        "PAYMENTS_PROVIDER": "stripe",
        "STRIPE_API_BASE": f"http://127.0.0.1:{LOCALSTRIPE_PORT}",
        "STRIPE_SECRET_KEY": STRIPE_SECRET_KEY,
        "STRIPE_WEBHOOK_SECRET": stripe_webhook_secret(),
        # Often enough that a fault test sees a repair within its run (Stripe's deployment: 5 min).
        "PAYMENTS_RECONCILE_SECONDS": os.environ.get("PAYMENTS_RECONCILE_SECONDS", "60"),
    }


def service_env(service: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": _secret(),
        "SERVICE": service,
        "DATABASE_URL": database_url(service),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{MOTO_PORT}",
        "AWS_ACCESS_KEY_ID": "stack",
        "AWS_SECRET_ACCESS_KEY": "stack",
        "AWS_REGION": "us-east-1",
        "AWS_STORAGE_BUCKET_NAME": "shopstack-media",
        "MEDIA_STORAGE": "s3",
        "CELERY_BROKER_URL": f"sqs://stack:stack@127.0.0.1:{MOTO_PORT}",
        "CELERY_SQS_WAIT_TIME_SECONDS": "2",
        # Short enough that a message held by a killed worker comes back within a fault test.
        "CELERY_VISIBILITY_TIMEOUT": "60",
        "CATALOG_API_URL": f"http://127.0.0.1:{SERVICES['catalog'].local_port}",
        "JWT_ISSUER": f"http://127.0.0.1:{GATEWAY_PORT}",
        "SHOP_FRONTEND_URL": f"http://127.0.0.1:{GATEWAY_PORT}",
        "LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
        # The nginx gateway appends the client's address to X-Forwarded-For (apps.core.client_address).
        "TRUSTED_PROXY_COUNT": "1",
    }
    env.pop("TASKS_RUN_IN_PROCESS", None)
    if service == "payments":
        env.update(payments_env())
    return env


def _pidfile(name: str) -> Path:
    return RUN_DIR / f"{name}.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _running(name: str) -> int | None:
    path = _pidfile(name)
    if path.exists():
        pid = int(path.read_text())
        if _alive(pid):
            return pid
    return None


def _spawn(name: str, argv: list[str], env: dict[str, str]) -> None:
    if _running(name):
        return
    log = (LOG_DIR / f"{name}.log").open("ab")
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    _pidfile(name).write_text(str(process.pid))


def _wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with closing(urllib.request.urlopen(url, timeout=2)) as response:  # noqa: S310 (loopback only)
                if response.status < 500:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"timed out waiting for {url}; see {LOG_DIR}")


def _manage(service: str, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=service_env(service), check=True)


def _create_databases(*, fresh: bool) -> None:
    with psycopg.connect(PG_URL, autocommit=True) as connection:
        if fresh:
            for service in SERVICES:
                connection.execute(f'DROP DATABASE IF EXISTS "{DB_PREFIX}_{service}" WITH (FORCE)')
        existing = {name for (name,) in connection.execute("SELECT datname FROM pg_database").fetchall()}
        for service in SERVICES:
            if f"{DB_PREFIX}_{service}" not in existing:
                connection.execute(f'CREATE DATABASE "{DB_PREFIX}_{service}"')


def start_localstripe() -> None:
    """localstripe behind its proxy, sending Stripe's events to the shop's endpoint at the
    gateway (devstack/localstripe.py: which events localstripe makes and which the proxy builds)."""
    argv = [
        sys.executable,
        "-m",
        "devstack.localstripe",
        "--port",
        str(LOCALSTRIPE_PORT),
        "--workdir",
        str(LOG_DIR),
        "--webhook-url",
        f"http://127.0.0.1:{GATEWAY_PORT}{STRIPE_WEBHOOK_PATH}",
        "--webhook-secret",
        stripe_webhook_secret(),
    ]
    _spawn("localstripe", argv, dict(os.environ))


def web_argv(service: str) -> list[str]:
    return [
        str(BIN / "gunicorn"),
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{SERVICES[service].local_port}",
        "--worker-class",
        "gthread",
        "--workers",
        os.environ.get("STACK_WEB_WORKERS", "2"),
        "--threads",
        "4",
        "--keep-alive",
        "75",
        "--graceful-timeout",
        "10",
        "--worker-tmp-dir",
        "/dev/shm",  # noqa: S108 (gunicorn's heartbeat files belong in memory, not on disk)
        "--access-logfile",
        "-",
    ]


def worker_argv(service: str) -> list[str]:
    return [
        str(BIN / "celery"),
        "-A",
        "config",
        "worker",
        "-Q",
        SERVICES[service].queue,
        "--pool",
        "threads",
        "--concurrency",
        "4",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel",
        "INFO",
        "--hostname",
        f"{service}@%h",
    ]


def relay_argv() -> list[str]:
    return [sys.executable, "manage.py", "relay_outbox", "--loop", "--interval", "2"]


def role_argv(name: str) -> tuple[list[str], dict[str, str]]:
    """The command and environment of one stack process, e.g. "orders-worker"."""
    service, _, role = name.rpartition("-")
    argv = {"web": web_argv, "worker": worker_argv}.get(role, lambda _service: relay_argv())(service)
    if role == "beat":
        argv = [str(BIN / "celery"), "-A", "config", "beat", "--schedule", str(RUN_DIR / f"{name}.db")]
    return argv, service_env(service)


def start(name: str) -> None:
    """(Re)start one process of a running stack, e.g. after a fault test killed it."""
    _spawn(name, *role_argv(name))


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _alive(pid)


def stop(names: list[str], sig: signal.Signals = signal.SIGTERM) -> None:
    """Signal these processes all at once; one still alive 15 s later is killed, so none is left
    serving on return (a process this one started stays a zombie until reaped: not waited on)."""
    pids = {name: pid for name in names if (pid := _running(name))}
    for pid in pids.values():
        with suppress(ProcessLookupError):
            os.killpg(pid, sig)
    deadline = time.monotonic() + 15
    for name, pid in pids.items():
        if not _wait_gone(pid, deadline - time.monotonic()):
            with suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            _wait_gone(pid, 5)
        _pidfile(name).unlink(missing_ok=True)


def kill(name: str, sig: signal.Signals = signal.SIGKILL) -> None:
    stop([name], sig)


def restart_service(service: str) -> None:
    """Stop a running service's processes gracefully and start them with this environment. All of
    them before any starts again: no process of the old settings serves or consumes after."""
    names = [f"{service}-{role}" for role in ("web", "worker", "relay", "beat") if _running(f"{service}-{role}")]
    if not names:
        raise SystemExit(f"{service} is not running: scripts/stack up")
    stop(names)
    for name in names:
        start(name)
    _wait_http(f"http://127.0.0.1:{SERVICES[service].local_port}/health/ready")


def signal_process(name: str, sig: signal.Signals) -> None:
    """SIGSTOP / SIGCONT a process (the moto server "stops" with its state kept)."""
    pid = _running(name)
    if pid is None:
        raise RuntimeError(f"{name} is not running")
    os.killpg(pid, sig)


def up(*, seed: bool = True, fresh: bool = False) -> None:
    """Start everything; `fresh` first drops the stack's databases (a run that must not depend on
    what an earlier run left, such as scripts/test-stack)."""
    for folder in (LOG_DIR, RUN_DIR):
        folder.mkdir(parents=True, exist_ok=True)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("nginx is not installed: apt-get install nginx-light")

    # Requests are recorded only while a benchmark asks (bench/stack_meter.py), into the run directory.
    moto_env = {**os.environ, "MOTO_RECORDER_FILEPATH": str(MOTO_RECORDING)}
    _spawn("moto", [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(MOTO_PORT)], moto_env)
    if PAYMENTS_PROVIDER == "stripe":
        start_localstripe()
    _wait_http(f"http://127.0.0.1:{MOTO_PORT}/moto-api/")
    _create_databases(fresh=fresh)
    for service in SERVICES:
        _manage(service, "migrate", "--noinput", "-v", "0")
    _manage("users", "provision_aws", "--bucket", "shopstack-media")
    static_root = ROOT / "staticfiles"
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local"},
        check=True,
    )
    if seed and (ROOT / "apps/catalog/management/commands/seed_demo.py").exists():
        _manage("catalog", "seed_demo", "--if-empty")
        # Shipping zones, tax rates and a voucher: without them orders ships nowhere.
        _manage("orders", "seed_pricing_demo")

    for service in SERVICES:
        for role in ("web", "worker", "relay"):
            start(f"{service}-{role}")
    start("orders-beat")  # the saga timeout sweep
    if PAYMENTS_PROVIDER == "stripe":
        start("payments-beat")  # the reconciliation with the provider

    (RUN_DIR / "nginx.conf").write_text(
        nginx_config(listen_port=GATEWAY_PORT, static_root=static_root, run_dir=RUN_DIR, log_dir=LOG_DIR)
    )
    if not _running("nginx"):
        subprocess.run([nginx, "-c", str(RUN_DIR / "nginx.conf"), "-p", str(RUN_DIR)], check=True)

    for service in SERVICES.values():
        _wait_http(f"http://127.0.0.1:{service.local_port}/health/ready")
    _wait_http(f"http://127.0.0.1:{GATEWAY_PORT}/api/v1/catalog/schema/")
    if PAYMENTS_PROVIDER == "stripe":
        _wait_http(f"http://127.0.0.1:{LOCALSTRIPE_PORT}/_harness/faults")
    status()


def down() -> None:
    if not RUN_DIR.exists():
        return
    pids = {pidfile: int(pidfile.read_text()) for pidfile in sorted(RUN_DIR.glob("*.pid"))}
    for pidfile, pid in pids.items():
        with suppress(ProcessLookupError):
            if pidfile.stem == "nginx":
                os.kill(pid, signal.SIGQUIT)
            else:
                os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    for pidfile, pid in pids.items():
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            with suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        pidfile.unlink(missing_ok=True)
    print("stack stopped")


def status() -> None:
    print(f"ShopStack split stack (logs: {LOG_DIR})")
    print(f"  gateway        http://127.0.0.1:{GATEWAY_PORT}/   pid {_running('nginx') or '-'}")
    print(f"  moto (AWS)     http://127.0.0.1:{MOTO_PORT}/   pid {_running('moto') or '-'}")
    if PAYMENTS_PROVIDER == "stripe":
        print(
            f"  localstripe    http://127.0.0.1:{LOCALSTRIPE_PORT}/ (proxy; localstripe :{LOCALSTRIPE_PORT + 1}, "
            f"events to {STRIPE_WEBHOOK_PATH})   pid {_running('localstripe') or '-'}"
        )
    else:
        print("  payments       on the sandbox provider (STACK_PAYMENTS_PROVIDER=sandbox)")
    for service in SERVICES.values():
        pids = " ".join(f"{role}={_running(f'{service.name}-{role}') or '-'}" for role in ("web", "worker", "relay"))
        if beat := _running(f"{service.name}-beat"):
            pids += f" beat={beat}"
        print(
            f"  {service.name:<14} http://127.0.0.1:{service.local_port}/  "
            f"(gateway: /{service.url_prefix}, /admin/{service.name}/)  {pids}"
        )


def main() -> None:
    if sys.argv[1:2] == ["manage"]:  # manage SERVICE COMMAND [ARGS...]: the rest is Django's
        if len(sys.argv) < 4:
            raise SystemExit("usage: stack manage SERVICE COMMAND [ARGS...]")
        _manage(sys.argv[2], *sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "status", "restart"])
    parser.add_argument("services", nargs="*", metavar="SERVICE", help="restart: only these services")
    parser.add_argument("--no-seed", action="store_true", help="up: skip the demo catalog")
    parser.add_argument("--fresh", action="store_true", help="up: drop the stack's databases first")
    arguments = parser.parse_args()
    if PAYMENTS_PROVIDER not in ("stripe", "sandbox"):
        raise SystemExit(f"STACK_PAYMENTS_PROVIDER is {PAYMENTS_PROVIDER!r}: stripe (the default) or sandbox")
    if arguments.services:
        if arguments.command != "restart":
            parser.error("only restart takes service names")
        if unknown := set(arguments.services) - set(SERVICES):
            parser.error(f"no such service: {', '.join(sorted(unknown))} (one of {', '.join(SERVICES)})")
        for service in arguments.services:
            restart_service(service)
        return
    if arguments.command in {"down", "restart"}:
        down()
    if arguments.command in {"up", "restart"}:
        up(seed=not arguments.no_seed, fresh=arguments.fresh)
    if arguments.command == "status":
        status()


if __name__ == "__main__":
    main()
