namespace Callern.Platform.Tests.ScaleOut;

/// <summary>
/// Test classes that load this machine on their own (a hundred live calls between two nodes):
/// xUnit runs them after the others, one at a time, so their timings are not those of a machine
/// that also runs the rest of the suite.
/// </summary>
[CollectionDefinition(nameof(RunsAlone), DisableParallelization = true)]
public sealed class RunsAlone;
