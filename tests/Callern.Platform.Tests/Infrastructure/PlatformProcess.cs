using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Callern.Platform.Tests.Signaling;
using Callern.Sdk;
using Microsoft.AspNetCore.SignalR.Client;
using Xunit.Abstractions;

namespace Callern.Platform.Tests.Infrastructure;

/// <summary>
/// The built platform as a real child process, started as scripts and deployments start it
/// (<c>dotnet Callern.Platform.dll</c>, configured through the environment) on a free port of
/// 127.0.0.1, on the real clock. Unlike <see cref="CallernApp"/> it can die without any shutdown:
/// <see cref="Kill"/> sends SIGKILL. Its output goes to the test's output, which the runner shows
/// when the test fails. Disposing kills it if it still runs.
/// </summary>
public sealed class PlatformProcess : RemotePlatform, IDisposable
{
    // A start takes seconds; on a loaded machine (the whole suite, several nodes at once) far more.
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly ITestOutputHelper _output;
    private readonly string _name;
    private volatile bool _disposed;

    private PlatformProcess(Process process, ITestOutputHelper output, string name, Uri baseAddress, string operatorKey)
        : base(baseAddress, operatorKey)
    {
        _process = process;
        _output = output;
        _name = name;
    }

    /// <summary>
    /// Starts Callern.Platform.dll (copied beside this test assembly by the project reference, so it
    /// is the build under test) and returns once <c>/health/ready</c> answers.
    /// </summary>
    /// <param name="environment">Configuration as environment variables (<c>Callern__Hub__HeartbeatSeconds</c>, …).</param>
    /// <param name="port">
    /// The port to listen on, for a restart where the clients reconnect to the address they knew
    /// (pick it with <see cref="FaultProxy.FreePortBelow32768"/>); a free port when null.
    /// </param>
    public static async Task<PlatformProcess> StartAsync(
        string name, IReadOnlyDictionary<string, string> environment, string operatorKey, ITestOutputHelper output, int? port = null)
    {
        var baseAddress = new Uri($"http://127.0.0.1:{port ?? FreePort()}/");
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "Callern.Platform.dll") },
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        start.Environment["Callern__OperatorKey"] = operatorKey;
        start.Environment["ASPNETCORE_URLS"] = baseAddress.ToString().TrimEnd('/');
        var process = new Process { StartInfo = start };
        var platform = new PlatformProcess(process, output, name, baseAddress, operatorKey);
        process.OutputDataReceived += (_, e) => platform.Echo(e.Data);
        process.ErrorDataReceived += (_, e) => platform.Echo(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await platform.WaitUntilReadyAsync();
        }
        catch
        {
            platform.Dispose();
            throw;
        }
        return platform;
    }

    /// <summary>SIGKILL: no shutdown hooks, no last heartbeat, no closing of connections.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        if (!_process.WaitForExit(TimeSpan.FromSeconds(10)))
        {
            throw new TimeoutException("The platform process outlived SIGKILL by 10 s.");
        }
    }

    /// <summary>SIGTERM: the graceful shutdown a deploy gives a node; returns once the process exited.</summary>
    public void Stop()
    {
        if (Signals.kill(_process.Id, Signals.SIGTERM) != 0 || !_process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            throw new TimeoutException("The platform process did not exit within 30 s of SIGTERM.");
        }
    }

    private async Task WaitUntilReadyAsync()
    {
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + StartTimeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The platform ({_name}) exited with {_process.ExitCode} while starting; its output is above.");
            }
            try
            {
                if ((await http.GetAsync("health/ready")).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet, or too busy starting to answer within the probe's timeout (a loaded machine).
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"The platform ({_name}) was not ready within {StartTimeout.TotalSeconds} s; its output is above.");
    }

    private void Echo(string? line)
    {
        if (line is not null && !_disposed)
        {
            _output.TryWriteLine($"[{_name}] {line}");
        }
    }

    private static class Signals
    {
        public const int SIGTERM = 15;

        [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
        public static extern int kill(int pid, int signal);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Kill();
        }
        _disposed = true;
        _process.Dispose();
    }
}
