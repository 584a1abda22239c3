// Opens N authenticated hub connections against a running platform and holds them: reports how
// many it holds, the connect rate, and the platform process's resident memory (VmRSS).
// bench/hub-connections.sh starts a throwaway platform and runs this against it.
//
//   dotnet run -c Release -- --url http://127.0.0.1:5080 --demo .callern/demo.json \
//       --connections 10000 --parallel 64 --hold 30 --pid <platform pid>
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Callern.Sdk;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;

var options = Args.Parse(args);
var demo = JsonDocument.Parse(File.ReadAllText(options.Demo)).RootElement;
var keyId = demo.GetProperty("apiKeyId").GetString()!;
var secret = demo.GetProperty("apiKeySecret").GetString()!;
var hubUrl = new Uri(new Uri(options.Url), "/hubs/calls");

var rssBefore = Rss(options.Pid);
var connections = new HubConnection?[options.Connections];
var failures = 0;
var firstError = "";
var next = -1;
var clock = Stopwatch.StartNew();

// A few workers each open connections one after another: the connect rate is what the server
// sustains, not a thundering herd of simultaneous handshakes.
await Task.WhenAll(Enumerable.Range(0, options.Parallel).Select(async _ =>
{
    int i;
    while ((i = Interlocked.Increment(ref next)) < options.Connections)
    {
        // One user per connection, like real clients; tokens signed locally as a school's backend does.
        var token = new AccessTokenBuilder(keyId, secret).ForUser($"bench-{i}", CallernRoles.Student).ValidFor(TimeSpan.FromHours(2)).Build();
        var connection = new HubConnectionBuilder()
            .WithUrl(hubUrl, o =>
            {
                o.Transports = HttpTransportType.WebSockets;
                o.SkipNegotiation = true;
                o.AccessTokenProvider = () => Task.FromResult<string?>(token);
            })
            .Build();
        try
        {
            await connection.StartAsync();
            connections[i] = connection;
        }
        catch (Exception exception)
        {
            if (Interlocked.Increment(ref failures) == 1)
            {
                firstError = exception.Message;
            }
            await connection.DisposeAsync();
        }
    }
}));
var connectSeconds = clock.Elapsed.TotalSeconds;
var opened = connections.Count(c => c is not null);
var rssConnected = Rss(options.Pid);

// Hold them: keep-alive pings flow and the platform's heartbeat writes last_seen for all of them.
await Task.Delay(TimeSpan.FromSeconds(options.Hold));
var held = connections.Count(c => c?.State == HubConnectionState.Connected);
var rssHeld = Rss(options.Pid);

Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
    connections requested   {options.Connections}
    connections opened      {opened} ({failures} failed{(failures > 0 ? ": " + firstError : "")})
    connect time            {connectSeconds:F1} s ({opened / connectSeconds:F0} connections/s, {options.Parallel} parallel)
    held after {options.Hold} s        {held}
    platform VmRSS          before {rssBefore / 1024.0:F0} MiB, connected {rssConnected / 1024.0:F0} MiB, after hold {rssHeld / 1024.0:F0} MiB
    per connection          {(rssHeld - rssBefore) / Math.Max(1, held):F1} KiB
    """));

await Task.WhenAll(connections.Where(c => c is not null).Select(c => c!.DisposeAsync().AsTask()));
return held == options.Connections ? 0 : 1;

// VmRSS of the platform process in KiB, from /proc (Linux); 0 when no pid was given.
static long Rss(int pid)
{
    if (pid <= 0)
    {
        return 0;
    }
    var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
}

internal sealed record Args(string Url, string Demo, int Connections, int Parallel, int Hold, int Pid)
{
    public static Args Parse(string[] args)
    {
        var line = new CommandLine(args);
        return new Args(line.Text("--url", "http://127.0.0.1:5080"), line.Text("--demo", ".callern/demo.json"),
            line.Number("--connections", 10_000), line.Number("--parallel", 64), line.Number("--hold", 30), line.Number("--pid", 0));
    }
}
