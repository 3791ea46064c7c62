"""Parameter estimation: priors, conjugate posteriors, MLE/MAP per node, gradient fitting, EM."""
