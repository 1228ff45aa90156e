"""Run history: each training's model kept by job id, its retention, the files a job leaves."""
