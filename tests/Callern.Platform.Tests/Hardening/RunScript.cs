using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Callern.Platform.Tests.Hardening;

/// <summary>
/// The platform started by <c>./run.sh</c> itself, from the repository root, as a developer or
/// ./test.sh starts it (without the sample school, on its own database, with a TURN secret and
/// URLs of the test's so that it starts no coturn). Stopped with SIGTERM, so run.sh stops the platform.
/// </summary>
public sealed class RunScript : ICallernHost, IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(5);

    private readonly Process _process;
    private readonly TestDatabase _database;
    private readonly List<string> _output = [];

    private RunScript(Process process, TestDatabase database, string stateDirectory, Uri baseAddress, string turnSecret)
    {
        _process = process;
        _database = database;
        StateDirectory = stateDirectory;
        BaseAddress = baseAddress;
        TurnSecret = turnSecret;
    }

    public Uri BaseAddress { get; }
    public string StateDirectory { get; }
    public string TurnSecret { get; }
    public string OperatorKey => File.ReadAllText(Path.Combine(StateDirectory, "operator-key")).Trim();
    public string PlatformLog => File.ReadAllText(Path.Combine(StateDirectory, "platform.log"));

    /// <param name="environment">Extra environment for run.sh (and so for the platform it starts).</param>
    public static async Task<RunScript> StartAsync(IReadOnlyDictionary<string, string> environment)
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "Callern.sln")))
        {
            root = root.Parent!;
        }
        var state = Directory.CreateTempSubdirectory("callern-run-").FullName;
        var database = new TestDatabase();
        var port = FaultProxy.FreePortBelow32768();
        var turnSecret = "run-test-turn-" + Guid.NewGuid().ToString("N");
        var start = new ProcessStartInfo(Path.Combine(root.FullName, "run.sh"))
        {
            WorkingDirectory = root.FullName,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            Environment =
            {
                ["CALLERN_SAMPLES"] = "0",
                ["CALLERN_DB"] = database.ConnectionString,
                ["CALLERN_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["CALLERN_STATE_DIR"] = state,
                ["CALLERN_TURN_URLS"] = "turn:127.0.0.1:3478?transport=udp",
                ["CALLERN_TURN_SECRET"] = turnSecret,
            },
        };
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        var process = new Process { StartInfo = start };
        var script = new RunScript(process, database, state, new Uri($"http://127.0.0.1:{port}/"), turnSecret);
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) => script.Record(e.Data, ready);
        process.ErrorDataReceived += (_, e) => script.Record(e.Data, ready);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await ready.Task.WaitAsync(StartTimeout);
        }
        catch
        {
            await script.DisposeAsync();
            throw;
        }
        return script;
    }

    public async Task<TestTenant> CreateTenantAsync(string name = "Test School")
    {
        var created = await new CallernClient(Http(OperatorKey)).CreateTenantAsync(new CreateTenantRequest { Name = name });
        return new TestTenant(created.Tenant.Id, created.ApiKey.KeyId, created.ApiKey.Secret);
    }

    public string Token(TestTenant tenant, string userId, string role, string? name = null) =>
        new AccessTokenBuilder(tenant.KeyId, tenant.Secret).ForUser(userId, role, name).Build();

    public CallernClient SdkAs(TestTenant tenant, string userId, string role, string? name = null) => new(Http(Token(tenant, userId, role, name)));

    /// <summary>As a browser connects: the token in the <c>access_token</c> query value of the WebSocket's URL.</summary>
    public HubConnection Hub(string token) => new HubConnectionBuilder()
        .WithUrl(new Uri(BaseAddress, "hubs/calls?access_token=" + Uri.EscapeDataString(token)), o =>
        {
            o.Transports = HttpTransportType.WebSockets;
            o.SkipNegotiation = true;
        })
        .AddJsonProtocol(o => o.PayloadSerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase)))
        .Build();

    public HttpClient Http(string? bearer)
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        if (bearer is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }
        return client;
    }

    /// <summary>run.sh's own output so far (build and ready lines), for a failure's message.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join('\n', _output);
            }
        }
    }

    private void Record(string? line, TaskCompletionSource ready)
    {
        if (line is null)
        {
            ready.TrySetException(new InvalidOperationException("run.sh ended before it was ready:\n" + Output));
            return;
        }
        lock (_output)
        {
            _output.Add(line);
        }
        if (line.StartsWith("Callern is ready at", StringComparison.Ordinal))
        {
            ready.TrySetResult();
        }
    }

    /// <summary>SIGTERM, as Ctrl+C would: run.sh stops the platform it started and exits.</summary>
    public async Task StopAsync()
    {
        if (!_process.HasExited)
        {
            using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
        _database.Dispose();
        Directory.Delete(StateDirectory, recursive: true);
    }
}
