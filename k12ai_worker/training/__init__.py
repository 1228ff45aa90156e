"""The framework-neutral half of a training job.

Config parsing (``params``, ``registry``) and the trainer's own settings
(``trainer_config``, ``optimizers``, ``schedulers``) import no ML library, so a
framework's ``validate`` hook can use them on the server. The loop itself
(``trainer``, ``metrics``, ``device``) needs torch and is imported only by a
running job.
"""
