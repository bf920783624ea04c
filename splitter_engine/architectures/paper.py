"""The three networks of the GradSplitter paper, with a width multiplier for narrow test versions.

Deviation from the reference code, for small inputs: pooling uses ``ceil_mode`` (identical on even
sizes, keeps a 1x1 map at 1x1 so 16x16 inputs run) and an adaptive average pool before the flatten
(identity on the reference 32x32 input, where the map is already 1x1).
"""
from __future__ import annotations

import torch
import torch.nn as nn


def scaled(channels: int, width: float) -> int:
    return max(1, int(round(channels * width)))


class ConvBN(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int = 3):
        super().__init__(nn.Conv2d(cin, cout, kernel, padding=(kernel - 1) // 2), nn.BatchNorm2d(cout))


def _pool() -> nn.MaxPool2d:
    return nn.MaxPool2d(2, 2, ceil_mode=True)


class SimCNN(nn.Module):
    """VGG16-like: 13 conv+BN, 5 max-pools, FC 4096-4096-N."""

    CHANNELS = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")

    def __init__(self, num_classes: int = 10, in_channels: int = 3, width: float = 1.0, dropout: float = 0.5):
        super().__init__()
        layers: list[nn.Module] = []
        cin = in_channels
        for item in self.CHANNELS:
            if item == "M":
                layers.append(_pool())
            else:
                cout = scaled(item, width)
                layers += [ConvBN(cin, cout), nn.ReLU(inplace=True)]
                cin = cout
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        hidden = scaled(4096, width)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(cin, hidden), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class ResCNN(nn.Module):
    """12 conv+BN; convs 3, 7, 11 add the input of the conv pair before them (reference layout)."""

    CONVS = ((None, 64), (64, 128), (128, 128), (128, 128), (128, 256), (256, 512),
             (512, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512))
    POOL_AFTER = (1, 4, 5, 8, 9)
    RESIDUAL_END = (3, 7, 11)

    def __init__(self, num_classes: int = 10, in_channels: int = 3, width: float = 1.0, dropout: float = 0.5):
        super().__init__()
        convs = []
        for cin, cout in self.CONVS:
            convs.append(ConvBN(in_channels if cin is None else scaled(cin, width), scaled(cout, width)))
        self.convs = nn.ModuleList(convs)
        self.dropout = nn.Dropout(dropout)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(scaled(512, width), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = None
        for i, conv in enumerate(self.convs):
            if i + 1 in self.RESIDUAL_END:
                residual = x
            x = torch.relu(conv(x))
            if i in self.RESIDUAL_END:
                x = x + residual
            if i in self.POOL_AFTER:
                x = nn.functional.max_pool2d(x, 2, 2, ceil_mode=True)
        return self.fc(self.dropout(torch.flatten(self.pool(x), 1)))


class InceptionBlock(nn.Module):
    """Three parallel branches (1x1, 3x3, 5x5 conv+BN+ReLU) concatenated on channels."""

    def __init__(self, cin: int, widths: tuple[int, int, int]):
        super().__init__()
        self.branches = nn.ModuleList(ConvBN(cin, w, k) for w, k in zip(widths, (1, 3, 5)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.relu(branch(x)) for branch in self.branches], dim=1)


class InceCNN(nn.Module):
    """3 conv+BN, 3 inception blocks, global average pooling, FC."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, width: float = 1.0, dropout: float = 0.4):
        super().__init__()
        s = lambda c: scaled(c, width)  # noqa: E731
        self.stem = nn.Sequential(ConvBN(in_channels, s(64)), nn.ReLU(inplace=True),
                                  ConvBN(s(64), s(128)), nn.ReLU(inplace=True),
                                  ConvBN(s(128), s(256)), nn.ReLU(inplace=True), _pool())
        branch_widths = (s(256), s(256), s(64)), (s(512), s(512), s(64)), (s(512), s(512), s(64))
        blocks, cin = [], s(256)
        for widths in branch_widths:
            blocks.append(InceptionBlock(cin, widths))
            cin = sum(widths)
        self.block1, self.block2, self.block3 = blocks
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = nn.functional.max_pool2d(self.block1(x), 2, 2, ceil_mode=True)
        x = nn.functional.max_pool2d(self.block2(x), 2, 2, ceil_mode=True)
        x = self.block3(x)
        return self.fc(self.dropout(torch.flatten(self.pool(x), 1)))
