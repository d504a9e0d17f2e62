"""TaskFlow decorators of the Devin provider: ``@task.devin`` (see :mod:`.devin`)."""
