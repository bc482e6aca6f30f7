"""Writing corrupted sets: CIFAR-C / -P files (``cifar``), ImageNet-C / -C-bar folders
(``folder_c``), ImageNet-P folders of videos (``folder_p``, ``video``)."""
