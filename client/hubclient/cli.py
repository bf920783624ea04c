"""`hub`: the REST API from a shell. HUB_URL and HUB_TOKEN (or --url/--token) say where and who."""
from __future__ import annotations

import argparse
import json
import sys

from hubclient.client import HubClient, HubError
from hubclient.progress import ProgressBar

LIST_FILTERS = {
    "datasets": ["owner", "class_name", "source", "search", "ordering"],
    "models": ["owner", "class_name", "architecture", "format", "dataset", "search", "ordering"],
    "decompositions": ["owner", "method", "base_model", "dataset", "architecture", "search", "ordering"],
    "modules": ["owner", "class_name", "dataset", "architecture", "method", "base_model", "decomposition",
                "kept_kernels_min", "kept_kernels_max", "f1_min", "search", "ordering"],
    "builds": ["owner", "kind", "strategy", "class_name", "base_model", "module", "search", "ordering"],
    "jobs": ["status", "kind", "ordering"],
}
SUMMARY = {
    "datasets": lambda r: f"{r['name']}  {r['num_classes']} classes  owner={r['owner']}",
    "models": lambda r: f"{r['name']}  {r['architecture'] or r['format']}  {r['num_classes']} classes  owner={r['owner']}",
    "decompositions": lambda r: f"{r['method']}  model={(r['base_model'] or {}).get('name')}  "
                                f"acc={r['composed_accuracy']:.3f}  kept={r['mean_kernel_retention']:.2f}",
    "modules": lambda r: f"class={r['class_name']}  model={(r['base_model'] or {}).get('name')}  "
                         f"{r['architecture']}/{r['method']}  kept={r['kept_kernels']}/{r['total_kernels']}  f1={r['f1']:.3f}",
    "builds": lambda r: f"{r['name'] or '(unnamed)'}  {r['kind']}/{r['strategy']}  classes={','.join(r['class_names'])}",
    "jobs": lambda r: f"{r['kind']}  {r['status']}  {r['progress'] * 100:.0f}%  {r['stage']}",
}
DOWNLOADS = {"build": ("builds", "onnx"), "model": ("models", "weights"), "module-weights": ("modules", "weights"),
             "module-spec": ("modules", "spec"), "decomposition": ("decompositions", "result"),
             "dataset": ("datasets", "arrays")}


def _json_arg(text: str):
    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub", description=__doc__)
    parser.add_argument("--url", help="hub address (default $HUB_URL or http://127.0.0.1:8000)")
    parser.add_argument("--token", help="API token (default $HUB_TOKEN)")
    parser.add_argument("--json", action="store_true", help="print raw JSON")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_read_commands(commands)
    _add_job_commands(commands)
    _add_build_command(commands)
    _add_predict_command(commands)
    return parser


def _add_read_commands(commands) -> None:
    """One listing per resource, ``show`` and ``download``."""
    for resource, filters in LIST_FILTERS.items():
        p = commands.add_parser(resource, help=f"list {resource}")
        for name in filters:
            p.add_argument(f"--{name.replace('_', '-')}", dest=name)
        p.add_argument("--limit", type=int, default=50)
        p.set_defaults(func=list_command)

    p = commands.add_parser("show", help="one entry as JSON")
    p.add_argument("resource", choices=list(LIST_FILTERS))
    p.add_argument("id", type=int)
    p.set_defaults(func=show_command)

    p = commands.add_parser("download", help="download a file, checking its sha256")
    p.add_argument("what", choices=list(DOWNLOADS))
    p.add_argument("id", type=int)
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=download_command)


def _add_job_commands(commands) -> None:
    """Commands that start a job (and may wait for it), ``wait`` and ``cancel``."""
    def job_parser(name: str, start, help: str):
        p = commands.add_parser(name, help=help)
        p.set_defaults(func=job_command, start=start)
        return p

    def waitable(p):
        p.add_argument("--wait", action="store_true", help="wait for the job with a progress bar")

    p = job_parser("import-dataset", start_import_dataset, "import a built-in data set")
    p.add_argument("builtin")
    p.add_argument("--name")
    waitable(p)

    p = job_parser("upload-dataset", start_upload_dataset, "upload an archive of labelled images")
    p.add_argument("file")
    p.add_argument("--name", required=True)
    p.add_argument("--format", default="auto")
    p.add_argument("--image-size")
    waitable(p)

    p = job_parser("upload-model", start_upload_model, "upload trained weights")
    p.add_argument("file")
    p.add_argument("--name", required=True)
    p.add_argument("--classes", required=True, help="class names in output order, comma-separated")
    p.add_argument("--input-spec", required=True, type=_json_arg, help='JSON, e.g. {"channels":1,"height":16,"width":16}')
    p.add_argument("--architecture", default="")
    p.add_argument("--arch-kwargs", type=_json_arg, default={})
    p.add_argument("--dataset", type=int)
    p.add_argument("--visibility", default="public", choices=["public", "private"])
    waitable(p)

    p = job_parser("train", start_train, "train a model on a data set")
    p.add_argument("--dataset", type=int, required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--architecture", required=True)
    p.add_argument("--arch-kwargs", type=_json_arg, default={})
    p.add_argument("--config", type=_json_arg, default={}, help='JSON, e.g. {"epochs": 2}')
    waitable(p)

    p = job_parser("decompose", start_decompose, "split a model into per-class modules")
    p.add_argument("model", type=int)
    p.add_argument("--method", default="gradsplitter")
    p.add_argument("--preset", default="", help="blank: the method's default (gradsplitter: fast, concern: sliced)")
    p.add_argument("--overrides", type=_json_arg, default={})
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    waitable(p)

    p = commands.add_parser("wait", help="wait for a job with a progress bar")
    p.add_argument("job", type=int)
    p.set_defaults(func=wait_command)

    p = commands.add_parser("cancel", help="cancel a job")
    p.add_argument("job", type=int)
    p.set_defaults(func=cancel_command)


def _add_build_command(commands) -> None:
    p = commands.add_parser("build", help="compose modules into a classifier")
    p.add_argument("modules", type=int, nargs="+", help="module ids, one per class, in output order")
    p.add_argument("--strategy", default="ensemble", choices=["ensemble", "fused"])
    p.add_argument("--calibration", default="none", choices=["none", "linear", "temperature"])
    p.add_argument("--name", default="")
    p.add_argument("-o", "--output", help="download the ONNX here once built")
    p.set_defaults(func=build_command)


def _add_predict_command(commands) -> None:
    p = commands.add_parser("predict", help="classify images with a build on the server")
    p.add_argument("build", type=int, help="build id")
    p.add_argument("images", nargs="+", help="PNG/JPEG files, or one .npz whose array x holds uint8 images")
    p.add_argument("--top-k", type=int, default=None, help="classes per image (default 5, or all when fewer)")
    p.set_defaults(func=predict_command)


def wait_with_bar(client: HubClient, job: dict) -> dict:
    bar = ProgressBar(f"job {job['id']} {job['kind']}")
    try:
        return client.wait(job, on_progress=bar.update)
    finally:
        bar.close()


def run(args, client: HubClient, out=None) -> int:
    """Run the parsed command ``args`` (its ``func``) against ``client``, writing to ``out``."""
    return args.func(args, client, out or sys.stdout)


def _emit(value, out) -> None:
    out.write(json.dumps(value, indent=2) + "\n")


# -- reading ----------------------------------------------------------------------------------------------
def list_command(args, client: HubClient, out) -> int:
    filters = {name: getattr(args, name) for name in LIST_FILTERS[args.command]}
    rows = client.list(args.command, limit=args.limit, **filters)
    if args.json:
        _emit(rows, out)
    else:
        for row in rows:
            out.write(f"#{row['id']}  {SUMMARY[args.command](row)}\n")
    return 0


def show_command(args, client: HubClient, out) -> int:
    _emit(client.detail(args.resource, args.id), out)
    return 0


def download_command(args, client: HubClient, out) -> int:
    resource, field = DOWNLOADS[args.what]
    path = client.download(client.detail(resource, args.id)[field], args.output)
    out.write(f"{path}\n")
    return 0


# -- jobs -------------------------------------------------------------------------------------------------
def _print_job(args, job: dict, out) -> int:
    if args.json:
        _emit(job, out)
    else:
        links = " ".join(f"{k}={v}" for k, v in job.get("result_urls", {}).items())
        out.write(f"job #{job['id']} {job['kind']}: {job['status']} {links}".rstrip() + "\n")
    return 0


def job_command(args, client: HubClient, out) -> int:
    """Start the job ``args.start`` asks for, wait for it with ``--wait``, and print it."""
    job = args.start(args, client)
    if args.wait:
        job = wait_with_bar(client, job)
    return _print_job(args, job, out)


def wait_command(args, client: HubClient, out) -> int:
    return _print_job(args, wait_with_bar(client, client.job(args.job)), out)


def cancel_command(args, client: HubClient, out) -> int:
    return _print_job(args, client.cancel(args.job), out)


def start_import_dataset(args, client: HubClient) -> dict:
    return client.import_dataset(args.builtin, name=args.name)


def start_upload_dataset(args, client: HubClient) -> dict:
    return client.upload_dataset(args.file, args.name, format=args.format, image_size=args.image_size)


def start_upload_model(args, client: HubClient) -> dict:
    return client.upload_model(args.file, name=args.name, class_names=[c.strip() for c in args.classes.split(",")],
                               input_spec=args.input_spec, architecture=args.architecture,
                               arch_kwargs=args.arch_kwargs, dataset=args.dataset, visibility=args.visibility)


def start_train(args, client: HubClient) -> dict:
    return client.train(dataset=args.dataset, name=args.name, architecture=args.architecture,
                        arch_kwargs=args.arch_kwargs, config=args.config)


def start_decompose(args, client: HubClient) -> dict:
    return client.decompose(args.model, method=args.method, preset=args.preset, overrides=args.overrides,
                            seed=args.seed, device=args.device)


# -- builds -----------------------------------------------------------------------------------------------
def build_command(args, client: HubClient, out) -> int:
    answer = client.build(args.modules, strategy=args.strategy, calibration=args.calibration, name=args.name)
    if answer["cached"]:
        build = answer["build"]
    else:
        job = wait_with_bar(client, answer["job"])
        build = client.result(job, "build")
    out.write(f"build #{build['id']} {build['name']}: classes {', '.join(build['class_names'])}"
              f"{' (cached)' if answer['cached'] else ''}\n")
    if args.output:
        out.write(f"{client.download(build['onnx'], args.output)}\n")
    return 0


def predict_command(args, client: HubClient, out) -> int:
    answer = client.predict(args.build, args.images, top_k=args.top_k)
    if args.json:
        _emit(answer, out)
        return 0
    for prediction in answer["predictions"]:
        ranked = ", ".join(f"{r['class_name']} {r['score']:.3f}" for r in prediction["ranked"])
        out.write(f"{prediction['name']}: {ranked}\n")
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    client = HubClient(args.url, args.token)
    try:
        return run(args, client)
    except HubError as exc:
        sys.stderr.write(f"error: {exc}\n")
        if exc.details and not exc.code.startswith("job_"):
            sys.stderr.write(json.dumps(exc.details) + "\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
