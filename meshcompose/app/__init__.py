"""The application layer: one function per user action.

    up        app.up.up(project, UpOptions)            -> UpResult
    start     app.up.start(project, StartOptions)      -> UpResult (calls `up`, as `up NAME` does)
    stop      app.stop.stop(directory, StopOptions)    -> StopResult
    restart   app.restart.restart(project, RestartOptions) -> RestartResult
    down      app.down.down(directory, DownOptions)    -> DownResult
    ps        app.ps.ps(directory, PsOptions)          -> PsResult
    logs      app.logs.logs(directory, LogsOptions, LogSink) -> LogsResult
    config    app.inspect.config(project, ConfigOptions) -> ConfigResult
    graph     app.inspect.graph(project, GraphOptions) -> GraphView
    env       app.inspect.env(project, EnvOptions)     -> EnvResult
    schema    app.inspect.schema()                     -> str
    run       app.run.run(project, RunOptions)         -> exit code of the command
    kill      app.agents.kill(directory, KillOptions)  -> KillResult
    wait      app.agents.wait(directory, WaitOptions)  -> WaitResult
    top       app.agents.top(directory, names)         -> AgentProcesses per agent
    ls        app.ls.ls(LsOptions)                     -> ProjectRow per project
    events    app.lifecycle.follow(directory, names)   -> event dicts, until the supervisor ends
    version   app.version.version()                    -> VersionInfo

The project comes from `app.project.load(ProjectSelection, warn)`; `ps`,
`logs`, `down` and `stop` only need its directory (`app.project.directory`),
so they answer when the project file no longer validates. Nothing here
prints, reads stdin or knows argparse: results are values the CLI renders,
and questions (the install prompt) come back through callbacks in the options.

Options are frozen dataclasses in `app.options`, except those of the
commands that must stay fast (ps, logs, down, stop), which live beside their
function. Modules are imported one by one, never from here, so `ps` pays
only for `ps`.
"""
