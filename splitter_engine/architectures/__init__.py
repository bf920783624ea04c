"""Architecture zoo: the paper's SimCNN/ResCNN/InceCNN and torchvision classifiers, by name."""
from splitter_engine.architectures.paper import InceCNN, ResCNN, SimCNN
from splitter_engine.architectures.registry import (ArchSpec, build_model, check_arch_kwargs, get_entry,
                                                    list_architectures, register_architecture)
from splitter_engine.architectures.torchvision_zoo import register_torchvision

register_architecture("simcnn", SimCNN, {"width": 1.0, "dropout": 0.5},
                      "GradSplitter SimCNN: 13 conv+BN (VGG16-like), FC 4096-4096-N", "paper")
register_architecture("rescnn", ResCNN, {"width": 1.0, "dropout": 0.5},
                      "GradSplitter ResCNN: 12 conv+BN with 3 residual adds, FC", "paper")
register_architecture("incecnn", InceCNN, {"width": 1.0, "dropout": 0.4},
                      "GradSplitter InceCNN: 3 conv+BN, 3 inception blocks (1x1/3x3/5x5), GAP, FC", "paper")
register_torchvision(register_architecture)

__all__ = ["ArchSpec", "build_model", "check_arch_kwargs", "get_entry", "list_architectures", "register_architecture",
           "SimCNN", "ResCNN", "InceCNN"]
