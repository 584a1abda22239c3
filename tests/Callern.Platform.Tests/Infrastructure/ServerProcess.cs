using System.Diagnostics;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace Callern.Platform.Tests.Infrastructure;

/// <summary>
/// A server the multi-node tests run as a real child process: Debian's <c>redis-server</c>, or nginx
/// through the repository's <c>scripts/balancer.sh</c> (as <c>./run.sh</c> starts it). Ready once its
/// port accepts connections; its output goes to the test's output; disposing kills it.
/// </summary>
public sealed class ServerProcess : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    private readonly Process _process;
    private readonly string _name;
    private readonly ITestOutputHelper _output;
    private volatile bool _disposed;

    private ServerProcess(Process process, string name, int port, ITestOutputHelper output)
    {
        _process = process;
        _name = name;
        _output = output;
        Port = port;
    }

    public int Port { get; }

    /// <summary>redis-server on 127.0.0.1:<paramref name="port"/>, in memory only (the backplane keeps nothing in it).</summary>
    public static Task<ServerProcess> RedisAsync(int port, ITestOutputHelper output) =>
        StartAsync("redis", port, output, "redis-server", "--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no");

    /// <summary>nginx on 127.0.0.1:<paramref name="port"/> in front of the nodes' ports, configured by scripts/balancer.sh under <paramref name="directory"/>.</summary>
    public static Task<ServerProcess> BalancerAsync(string directory, int port, IEnumerable<int> nodePorts, ITestOutputHelper output) =>
        StartAsync("nginx", port, output, "bash", [Path.Combine(RepositoryRoot(), "scripts", "balancer.sh"), directory, port.ToString(), .. nodePorts.Select(p => p.ToString())]);

    private static async Task<ServerProcess> StartAsync(string name, int port, ITestOutputHelper output, string command, params string[] arguments)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        var process = new Process { StartInfo = start };
        var server = new ServerProcess(process, name, port, output);
        process.OutputDataReceived += (_, e) => server.Echo(e.Data);
        process.ErrorDataReceived += (_, e) => server.Echo(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow + StartTimeout;
        while (true)
        {
            if (process.HasExited)
            {
                server.Dispose();
                throw new InvalidOperationException($"{name} exited with {process.ExitCode} while starting; its output is above.");
            }
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync("127.0.0.1", port);
                return server;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>SIGKILL: the server is gone at once, its connections reset.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            if (!_process.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                throw new TimeoutException($"{_name} outlived SIGKILL by 10 s.");
            }
        }
    }

    /// <summary>The checkout this test assembly was built from (scripts/ and samples/ are read from it).</summary>
    public static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Callern.sln")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? throw new InvalidOperationException("Callern.sln not found above " + AppContext.BaseDirectory);
    }

    private void Echo(string? line)
    {
        if (line is not null && !_disposed)
        {
            _output.TryWriteLine($"[{_name}] {line}");
        }
    }

    public void Dispose()
    {
        Kill();
        _disposed = true;
        _process.Dispose();
    }
}
