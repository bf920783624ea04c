"""What an experiment run trains and decomposes. ``quick`` fits a 2-core CPU (digits, narrow models, shortened
searches: every shortening is listed in ``settings`` and on the report); ``paper`` is the papers' settings."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

EXPERIMENTS = ("methods", "patching", "reuse", "accuracy", "cost")
METHODS = ("gradsplitter", "cnnsplitter", "concern")


@dataclass(frozen=True)
class Profile:
    name: str
    architecture: str
    arch_kwargs: dict
    train: dict  # the strong models' TrainConfig; the from-scratch baseline of a new task gets the same budget
    # The papers' weak models: a small net, and the same network under-trained; each is patched on the class it
    # is weakest on (by validation F1).
    small_architecture: str
    small_kwargs: dict
    small_train: dict
    short_train: dict
    # Decomposition method -> (preset, overrides) for the side-by-side comparison; concern runs both presets.
    methods: dict = field(default_factory=dict)
    # "More accurate models from modules": pool_models models, each on a Dirichlet(alpha)-skewed subset.
    pool_models: int = 10
    pool_train: dict = field(default_factory=dict)
    pool_method: tuple = ("gradsplitter", "fast", {})
    reuse_methods: tuple = ("gradsplitter", "concern")  # whose modules compose the new task
    device: str = "auto"
    classes: int = 0  # 0: every class of the data set; else its first ``classes`` classes
    notes: tuple = ()

    def to_dict(self) -> dict:
        data = asdict(self)
        data["methods"] = {k: list(v) for k, v in self.methods.items()}
        data["pool_method"] = list(self.pool_method)
        data["reuse_methods"] = list(self.reuse_methods)
        return data


SGD = {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4, "lr_schedule": "cosine"}

QUICK = Profile(
    name="quick", architecture="rescnn", arch_kwargs={"width": 0.125},
    train={**SGD, "epochs": 10},
    small_architecture="simcnn", small_kwargs={"width": 0.0625}, small_train={**SGD, "epochs": 3},
    # 2 epochs: 86-88 % on validation over seeds 1-3, weak on some classes; 1 epoch (10 SGD steps) left a model at
    # chance that calibration alone repairs, so patching measured nothing of the module
    short_train={**SGD, "epochs": 2},
    # GradSplitter selects within 1 point, the trade-off the papers report; fast's own half point kept 84 % of this
    # ResCNN's kernels (seed 1: one validation image is 0.37 points), which says nothing of the papers' claims
    methods={"gradsplitter": ("fast", {"tolerance": 0.01}),
             # 16 validation images per class (fast: all of them) keep the profile within its 45 minutes
             "cnnsplitter": ("fast", {"generations": 8, "early_stop_patience": 4, "sensitivity_ratios": [0.4, 0.8],
                                      "val_per_class": 16}),
             "concern": ("sliced", {})},
    pool_models=10, pool_train={**SGD, "epochs": 10, "batch_size": 32, "dirichlet_alpha": 1.0, "subsample": 0.5},
    # GradSplitter, as ModelFoundry: concern identification refuses a skewed model that never confidently predicts
    # a class it saw few images of (all ten of one measured pool, at 46-86 % test accuracy)
    pool_method=("gradsplitter", "fast", {"cycles": 4, "refit_head_epochs": 4, "early_stop_patience": 1,
                                          "tolerance": 0.01}),
    device="cpu",
    notes=("ResCNN at an eighth of the paper's width on digits, 10 epochs of SGD instead of 200",
           "CNNSplitter: the fast preset with 8 generations (the paper: 200), two sensitivity ratios and 16 validation "
           "images per class",
           "the accuracy experiment's pool: ten models, 10 epochs each on 50 % Dirichlet(1) subsets, decomposed by "
           "GradSplitter fast shortened to 4 mask cycles",
           "GradSplitter selects within 1 point of the base model (fast: half a point)"),
)

PAPER = Profile(
    name="paper", architecture="simcnn", arch_kwargs={},
    train={"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 1e-4, "lr_schedule": "cosine",
           "epochs": 200, "augmentation": "flip-crop"},
    small_architecture="simcnn", small_kwargs={"width": 0.125},
    small_train={"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "epochs": 20},
    short_train={"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "epochs": 2},
    methods={"gradsplitter": ("paper", {}), "cnnsplitter": ("paper", {}), "concern": ("sliced", {})},
    pool_models=10,
    pool_train={"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 1e-4, "epochs": 200,
                "dirichlet_alpha": 1.0, "subsample": 0.5, "augmentation": "flip-crop"},
    pool_method=("gradsplitter", "paper", {}),
    device="cuda",
    notes=("the papers' SimCNN, schedules and presets; meant for an uploaded CIFAR-10 archive on a GPU worker",),
)

PROFILES = {p.name: p for p in (QUICK, PAPER)}
