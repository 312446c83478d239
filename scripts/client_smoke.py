"""Part of scripts/fuzz: call every operation of a generated client (openapi-python-client) that
reads (GET) and needs no argument but the client, against the running server, and fail if one cannot parse its
answer or gets a status its schema does not document (how a client generated from the orders
schema used to crash on the order list).

Usage: client_smoke.py <clients dir> <package> <base URL> <access token>"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys


def main(clients_dir: str, package: str, base_url: str, token: str) -> int:
    sys.path.insert(0, clients_dir)
    client_module = importlib.import_module(f"{package}.client")
    client = client_module.AuthenticatedClient(base_url=base_url, token=token, raise_on_unexpected_status=True)
    api = importlib.import_module(f"{package}.api")
    failures = 0
    called = 0
    for tag in pkgutil.iter_modules(api.__path__):
        tag_package = importlib.import_module(f"{package}.api.{tag.name}")
        for operation in pkgutil.iter_modules(tag_package.__path__):
            module = importlib.import_module(f"{package}.api.{tag.name}.{operation.name}")
            parameters = inspect.signature(module.sync_detailed).parameters.values()
            required = [p.name for p in parameters if p.default is inspect.Parameter.empty]
            if required != ["client"] or module._get_kwargs()["method"].lower() != "get":
                continue  # needs data, or would change something (sign out...): the fuzz covers those
            called += 1
            try:
                response = module.sync_detailed(client=client)
                if response.status_code < 400 and response.parsed is None:
                    raise ValueError(f"answer {response.status_code} not parsed")
            except Exception as error:  # any failure of a generated client is the finding
                failures += 1
                print(f"client {package}: {operation.name} failed: {type(error).__name__}: {error}")
            else:
                print(f"client {package}: {operation.name} -> {response.status_code}")
    if not called:
        print(f"client {package}: no operation callable without arguments")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
