"""The shapes of the plain data canary_sdk takes and returns, for type checkers: see types.pyi,
where each is a TypedDict, a Literal or a Protocol. At run time the data are plain dicts and
strings, so each name here is only ``dict``, ``str`` or ``object``."""

Settings = AppRef = DeployOptions = DeployStep = SmokeOptions = SmokeTally = SmokeReport = dict
RunOptions = CheckResult = AnalysisReport = Event = RolloutState = ServiceState = AppSplit = dict
Status = Outcome = CommandOutcome = Backend = Pushed = LogLine = BuildEvent = MetricQuery = Hook = dict
HookContext = HookOutcome = dict
Phase = EventKind = Track = HookPoint = CommandName = Verdict = str
Duration = HookResult = HookFunction = EventCallback = StepCallback = MetricsSourceLike = object
