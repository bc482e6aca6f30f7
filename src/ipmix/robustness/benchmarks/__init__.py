"""One module per benchmark family: its reader (layout, checks) and its protocol (metrics).

- `cifar`: CIFAR-10/100-C, -C-bar and -P (``.npy`` files; `cifar_files` reads them);
- `imagenet_c`: ImageNet-C (15 + 4 corruptions) and ImageNet-C-bar (JPEG folders);
- `imagenet_p`: ImageNet-P (``.mp4`` sequences, decoded with PyAV);
- `imagenet_subsets`: ImageNet-R, -A (200-class masks) and -O (anomalies);
- `shifts`: ImageNet-V2, -Sketch, Stylized-ImageNet and any image folder of the model's classes.

`ipmix.robustness.suite` (CIFAR) and `ipmix.robustness.imagenet_suite` run whichever were given.
"""
