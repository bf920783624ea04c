"""HubClient: every call is one REST request (or a loop of them); nothing else is touched."""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import requests

CHUNK = 1024 * 1024


class HubError(Exception):
    """An error answer from the hub: HTTP status and the stable ``code``, ``message`` and ``details``."""

    def __init__(self, status: int, code: str, message: str, details: dict | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details or {}


class JobFailed(HubError):
    def __init__(self, job: dict):
        super().__init__(200, f"job_{job['status']}", job.get("error") or job.get("message") or job["status"],
                         {"job": job})
        self.job = job


class HubClient:
    def __init__(self, url: str | None = None, token: str | None = None, *, timeout: float = 60.0,
                 session: requests.Session | None = None):
        self.url = (url or os.environ.get("HUB_URL") or "http://127.0.0.1:8000").rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        token = token if token is not None else os.environ.get("HUB_TOKEN")
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["Accept"] = "application/json"

    # --- plumbing -----------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.url}/api/{path.lstrip('/')}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        response = self.session.request(method, self._url(path), **kwargs)
        if response.status_code >= 400:
            try:
                body = response.json()
                raise HubError(response.status_code, body.get("code", "error"), body.get("message", ""),
                               body.get("details"))
            except ValueError:
                raise HubError(response.status_code, "error", response.text[:300]) from None
        return response

    def get(self, path: str, **params) -> Any:
        return self.request("GET", path, params=_clean(params)).json()

    def post(self, path: str, body: dict | None = None) -> dict:
        return self.request("POST", path, json=body or {}).json()

    # --- reads ----------------------------------------------------------------------------------------

    def iterate(self, resource: str, **filters) -> Iterator[dict]:
        """Every entry of a list, page after page; filters are the list's query parameters."""
        page = self.get(f"{resource}/", **filters)
        while True:
            yield from page["results"]
            if not page.get("next"):
                return
            page = self.request("GET", page["next"]).json()

    def list(self, resource: str, limit: int | None = None, **filters) -> list[dict]:
        rows = []
        for row in self.iterate(resource, **filters):
            rows.append(row)
            if limit is not None and len(rows) >= limit:
                break
        return rows

    def detail(self, resource: str, entry_id: int) -> dict:
        return self.get(f"{resource}/{int(entry_id)}/")

    def modules(self, **filters) -> list[dict]:
        """Modules, e.g. ``modules(class_name="cat", architecture="vgg16", kept_kernels_max=200)``."""
        return self.list("modules", **filters)

    def search_modules(self, text: str, **filters) -> list[dict]:
        return self.list("modules", search=text, **filters)

    def job(self, job_id: int) -> dict:
        return self.detail("jobs", job_id)

    # --- commands (each returns the job; wait() follows it) -------------------------------------------

    def import_dataset(self, builtin: str, name: str | None = None, visibility: str = "public") -> dict:
        return self.post("datasets/import/", _clean({"builtin": builtin, "name": name, "visibility": visibility}))

    def upload_dataset(self, path: str | os.PathLike, name: str, **options) -> dict:
        return self._upload("datasets/upload/", "archive", path, {"name": name, **options})

    def upload_model(self, path: str | os.PathLike, *, name: str, class_names: list[str], input_spec: dict,
                     architecture: str = "", arch_kwargs: dict | None = None, dataset: int | None = None,
                     visibility: str = "public", description: str = "") -> dict:
        fields = {"name": name, "class_names": json.dumps(list(class_names)), "input_spec": json.dumps(input_spec),
                  "architecture": architecture, "arch_kwargs": json.dumps(arch_kwargs or {}),
                  "dataset": dataset, "visibility": visibility, "description": description}
        return self._upload("models/upload/", "weights", path, fields)

    def _upload(self, path: str, file_field: str, file_path, fields: dict) -> dict:
        file_path = Path(file_path)
        with open(file_path, "rb") as handle:  # requests streams the file from disk
            return self.request("POST", path, data=_clean(fields),
                                files={file_field: (file_path.name, handle)}).json()

    def train(self, *, dataset: int, name: str, architecture: str, **options) -> dict:
        return self.post("models/train/", {"dataset": dataset, "name": name, "architecture": architecture, **options})

    def evaluate(self, model: int, **options) -> dict:
        return self.post(f"models/{int(model)}/evaluate/", options)

    def edit_model(self, model: int, *, description: str | None = None, tags: list[str] | None = None) -> dict:
        """The owner sets a model's description (Markdown) and/or tags; returns the model."""
        body = _clean({"description": description, "tags": tags})
        return self.request("PATCH", f"models/{int(model)}/", json=body).json()

    def decompose(self, model: int, *, method: str = "gradsplitter", preset: str = "", **options) -> dict:
        return self.post(f"models/{int(model)}/decompose/", {"method": method, "preset": preset, **options})

    def build(self, modules: list[int], *, strategy: str = "ensemble", **options) -> dict:
        """Compose modules (one per class, in output order) into a classifier.

        Returns ``{"cached", "build", "job"}``: the Build at once when the same request was built before,
        else the job that builds it; ``wait_build`` gives the Build either way.
        """
        return self.post("builds/compose/", {"modules": list(modules), "strategy": strategy, **options})

    def patch(self, model: int, module: int, *, mode: str = "replace", **options) -> dict:
        """Replace (or add) a class of a weak model with a strong model's module; same answer as ``build``."""
        return self.post("builds/patch/", {"model": model, "module": module, "mode": mode, **options})

    def estimate(self, modules: list[int], **options) -> dict:
        return self.post("builds/estimate/", {"modules": list(modules), **options})

    def predict(self, build: int, images: list[str | os.PathLike], *, top_k: int | None = None) -> dict:
        """Classify images with a build on the server: PNG/JPEG files, or one .npz whose ``x`` is a uint8 batch.
        Returns ``{"build", "classes", "top_k", "predictions": [{"name", "ranked": [{"class_name", "score"}]}]}``."""
        paths = [Path(p) for p in images]
        handles = [open(p, "rb") for p in paths]
        try:
            files = [("images", (p.name, h)) for p, h in zip(paths, handles)]
            return self.request("POST", f"builds/{int(build)}/predict/", data=_clean({"top_k": top_k}),
                                files=files).json()
        finally:
            for handle in handles:
                handle.close()

    def wait_build(self, answer: dict, **wait_options) -> dict:
        if answer["cached"]:
            return answer["build"]
        return self.result(self.wait(answer["job"], **wait_options), "build")

    def cancel(self, job_id: int) -> dict:
        return self.post(f"jobs/{int(job_id)}/cancel/")

    def wait(self, job: dict | int, *, poll: float = 1.0, timeout: float | None = None,
             on_progress: Callable[[dict], None] | None = None) -> dict:
        """Poll a job until it ends; returns it when it succeeded, raises JobFailed otherwise."""
        job_id = job if isinstance(job, int) else job["id"]
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            current = self.job(job_id)
            if on_progress:
                on_progress(current)
            if current["is_terminal"]:
                if current["status"] != "succeeded":
                    raise JobFailed(current)
                return current
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {current['status']} after {timeout} s")
            time.sleep(poll)

    def result(self, job: dict, key: str) -> dict:
        """The entry a finished job created, e.g. ``result(job, "model")``."""
        return self.request("GET", job["result_urls"][key]).json()

    # --- downloads ------------------------------------------------------------------------------------

    def download(self, file: dict, dest: str | os.PathLike, *, resume: bool = True) -> Path:
        """Stream a file entry (``{"download_url", "sha256", "size"}``) to ``dest`` and check its sha256.

        A partial file at ``dest`` is continued with a Range request (If-Range: the sha256).
        """
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        have = part.stat().st_size if resume and part.exists() else 0
        headers = {"Accept": "application/octet-stream"}
        if 0 < have < file["size"]:
            headers.update({"Range": f"bytes={have}-", "If-Range": f'"{file["sha256"]}"'})
        with self.request("GET", file["download_url"], headers=headers, stream=True) as response:
            mode = "ab" if response.status_code == 206 else "wb"
            with open(part, mode) as out:
                for chunk in response.iter_content(CHUNK):
                    out.write(chunk)
        digest = hashlib.sha256()
        with open(part, "rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != file["sha256"]:
            part.unlink()
            raise HubError(200, "checksum_mismatch", f"downloaded bytes do not match sha256 {file['sha256']}")
        os.replace(part, dest)
        return dest

    def download_build(self, build_id: int, dest: str | os.PathLike) -> Path:
        return self.download(self.detail("builds", build_id)["onnx"], dest)


def _clean(values: dict) -> dict:
    return {k: v for k, v in values.items() if v is not None}
