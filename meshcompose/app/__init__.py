"""The application layer: one function per user action.

    up        app.up.up(project, UpOptions)            -> UpResult
    start     app.up.start(project, StartOptions)      -> UpResult (calls `up`, as `up NAME` does)
    stop      app.stop.stop(identity, StopOptions)     -> StopResult
    restart   app.restart.restart(project, RestartOptions) -> RestartResult
    down      app.down.down(identity, DownOptions)     -> DownResult
    ps        app.ps.ps(identity, PsOptions)           -> PsResult
    logs      app.logs.logs(identity, LogsOptions, LogSink) -> LogsResult
    config    app.describe.config(project, ConfigOptions) -> ConfigResult
    graph     app.describe.graph(project, GraphOptions) -> GraphView
    env       app.describe.env(project, EnvOptions)    -> EnvResult
    schema    app.describe.schema()                    -> str
    run       app.oneoff.run(project, RunOptions)      -> exit code of the command
    kill      app.agents.kill(directory, KillOptions)  -> KillResult
    wait      app.agents.wait(directory, WaitOptions)  -> WaitResult
    top       app.agents.top(directory, names)         -> AgentProcesses per agent
    ls        app.ls.ls(LsOptions)                     -> ProjectRow per project
    events    app.events.follow(directory, names)      -> event dicts, until the supervisor ends
    version   app.version.version()                    -> VersionInfo

The project comes from `app.project.load(ProjectSelection, warn)`; `ps`,
`logs`, `down` and `stop` only need its directory and name
(`app.project.identify`: -p, $MESH_COMPOSE_PROJECT_NAME, the file's `name:`
read lightly, the directory's name, or the one project running there), so
they answer when the project file no longer validates. Nothing here
prints, reads stdin or knows argparse: results are values the CLI renders,
and questions (the install prompt) come back through callbacks in the options.

Options are frozen dataclasses in `app.options`, except those of the
commands that must stay fast (ps, logs, down, stop), which live beside their
function. Modules are imported one by one, never from here, so `ps` pays
only for `ps`.
"""
