from __future__ import annotations

from django import forms

from frontend.forms.common import HubForm, visibility_field

FORMAT_CHOICES = [("auto", "Detect from the file"), ("image-zip", "Image folders in a .zip"),
                  ("cifar10", "CIFAR-10 binary archive"), ("cifar100", "CIFAR-100 binary archive"),
                  ("npz", "NumPy .npz (x uint8, y int)")]


class DatasetUploadForm(HubForm):
    name = forms.CharField(max_length=120)
    archive = forms.FileField(help_text="An image-folder .zip (one folder per class), a CIFAR-10/100 binary "
                                        ".tar.gz, or an .npz with arrays x (uint8) and y (int), optionally "
                                        "class_names (strings, in label order) and x_test/y_test.")
    format = forms.ChoiceField(choices=FORMAT_CHOICES, initial="auto")
    image_size = forms.IntegerField(required=False, min_value=8, max_value=512,
                                    help_text="Resize images to this square size (optional).")
    channels = forms.TypedChoiceField(choices=[("", "Keep"), ("1", "1 (grey)"), ("3", "3 (RGB)")], coerce=int,
                                      required=False, empty_value=None)
    seed = forms.IntegerField(initial=0, min_value=0, help_text="Seed of the train/val/test split.")
    visibility = visibility_field()
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class BuiltinDatasetForm(HubForm):
    builtin = forms.ChoiceField(label="Built-in data set", choices=())
    name = forms.CharField(max_length=120, required=False, help_text="Defaults to the built-in name.")
    visibility = visibility_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from splitter_engine.data import BUILTIN_DATASETS

        self.fields["builtin"].choices = [(key, f"{key} — {text}") for key, text in BUILTIN_DATASETS.items()]
