"""What a trained classifier learnt: the paper's Figure 8 for any runs.

`ipmix figures RUN...` (`ipmix.analysis.figures.make_figures`): a seeded t-SNE of penultimate
features on the same test images (`ipmix.analysis.tsne`) and Grad-CAM maps of chosen images
(`ipmix.analysis.gradcam`). Like `ipmix.robustness` it takes any trained ipmix model and never
imports `ipmix.training`.
"""
