using Xunit.Abstractions;

namespace Callern.Platform.Tests.Infrastructure;

public static class TestOutput
{
    /// <summary>Writes a line to the test's output, unless the test already finished (a process or a client may outlive it).</summary>
    public static void TryWriteLine(this ITestOutputHelper output, string line)
    {
        try
        {
            output.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // The test is over.
        }
    }
}
