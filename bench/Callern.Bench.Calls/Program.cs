// Calls under load against a running platform: N available teachers and N students with minutes;
// students request calls at a steady rate and teachers accept at once (request → ring and
// accept → both notified latency), both sides negotiate and report their media connected as a
// browser does, measures the platform's CPU while every call meters and nobody signals, then every
// call's two sides exchange 500-byte signals every --every milliseconds, 500 by default (relay
// latency; the platform's, its own and the machine's CPU from /proc; its own timer lag).
// BENCH_SAMPLES=<file> also writes every signal's send time and latency, the lag, and every
// request's time with its ring and accept latency (<file>.ring), for timelines. bench/calls.sh
// starts a throwaway platform and runs this against it. With --peerjs it drives a PeerJS server
// instead (pairs of connections relaying the same signals; bench/peer-comparison.sh runs both).
//
// Several nodes (--nodes, their URLs; --pid, their pids in that order): with --route nodes each
// hub connection goes straight to a node by a fixed rule (student i to node i % N, teacher i to
// node (i / 2) % N), with --route balancer through --url, and the node the balancer chose is read
// from the X-Callern-Node header of the WebSocket upgrade's response. Either way the bench knows
// each party's node, so it reports which calls and signals crossed nodes, the relay latency of
// each kind, and the CPU of every node, of the backplane (--redis-pid) and of the balancer
// (--balancer-pid).
//
//   dotnet run -c Release -- --url http://127.0.0.1:5080 --demo .callern/demo.json \
//       --calls 1000 --rate 50 --relay 20 --every 500 --pid <platform pid>
//   dotnet run -c Release -- --url http://127.0.0.1:5080 --nodes http://127.0.0.1:5081,http://127.0.0.1:5082 \
//       --route balancer --pid <node 1 pid>,<node 2 pid> --redis-pid <pid> --balancer-pid <pid> ...
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Callern.Sdk;

var options = Args.Parse(args);
// Every relayed signal's send and receive times, in an array sized up front: a growing collection
// would allocate large arrays mid-run and make the generator pause for its own garbage collection.
const int WarmupSeconds = 5;
var received = new (long SentAt, long ReceivedAt, bool Crossing)[options.Calls * 2 * ((WarmupSeconds + options.RelaySeconds) * 1000 / options.SignalEveryMs + 2)];
var receivedCount = 0L;
var padding = new string('x', 480);
const long NotTimed = 0;
// The platform's own work while every call meters and nobody signals (ticks, timers, heartbeats),
// so the relay's cost per signal can be told from it: over a whole tick interval (30 s), which also
// holds two connection heartbeats (15 s); a shorter window reads more or less than one of each.
const int QuietSeconds = 30;
if (options.PeerJs is { } peerJs)
{
    return await PeerJsAsync(peerJs);
}

var demo = JsonDocument.Parse(File.ReadAllText(options.Demo)).RootElement;
var keyId = demo.GetProperty("apiKeyId").GetString()!;
var secret = demo.GetProperty("apiKeySecret").GetString()!;
var baseUri = new Uri(options.Url);
string Token(string user, string role) => new AccessTokenBuilder(keyId, secret).ForUser(user, role).ValidFor(TimeSpan.FromHours(2)).Build();

// People and minutes through the REST API, as a school's backend would.
using var http = new HttpClient { BaseAddress = baseUri };
http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token("bench-admin", CallernRoles.Admin));
var api = new CallernClient(http);
await ForEachAsync(options.Calls, async i =>
{
    await api.UpsertTeacherAsync($"bt-{i}", new TeacherInput
    {
        DisplayName = $"Teacher {i}", TimeZone = "Europe/London", Specializations = ["conversational"],
        Languages = [new TeacherLanguage { Language = "en-GB", Levels = ["B1"] }],
    });
    await api.UpsertStudentAsync($"bs-{i}", new StudentInput { DisplayName = $"Student {i}", TimeZone = "Europe/Berlin", TargetLanguage = "en", Level = "B1" });
    await api.AdjustWalletAsync($"bs-{i}", $"bench-{i}-{Guid.NewGuid()}", new AdjustmentRequest { Seconds = 7200, Reason = "benchmark" });
});

var requestedAt = new long[options.Calls];
// By request: the first RequestWarmupSeconds of requests run the platform's request path cold (JIT,
// caches) and are reported on their own. NaN: never rang, or never accepted.
const int RequestWarmupSeconds = 10;
var ringLatency = Enumerable.Repeat(double.NaN, options.Calls).ToArray();
var acceptInvokedAt = new ConcurrentDictionary<string, long>();
var acceptLatency = Enumerable.Repeat(double.NaN, options.Calls).ToArray();
// Every side's loop of media confirmations, from its accept to the end of the run.
var confirmations = new System.Collections.Concurrent.ConcurrentBag<Task>();
using var stopConfirming = new CancellationTokenSource();
var callOf = new string?[options.Calls];
// Placement: the index in options.Nodes of each party's node; whether its call's parties are on
// different nodes (set at the accept); the teacher that accepted each student's call.
var teacherNode = new int[options.Calls];
var studentNode = new int[options.Calls];
var teacherCrossing = new bool[options.Calls];
var studentCrossing = new bool[options.Calls];
var teacherOfStudent = new int[options.Calls];
var teacherOf = new ConcurrentDictionary<string, LeanHubConnection>();
var accepted = 0;
var refusedRequests = new ConcurrentDictionary<string, int>();
// Requests answered `queued` although every teacher was available when the requests began.
var queuedRequests = 0;

var teachers = new LeanHubConnection[options.Calls];
var students = new LeanHubConnection[options.Calls];
await ForEachAsync(options.Calls, async i =>
{
    var teacher = Connect($"bt-{i}", CallernRoles.Teacher, (i / 2) % options.Nodes.Length);
    teacher.On("IncomingCall", e => _ = AcceptAsync(e));
    async Task AcceptAsync(JsonElement e)
    {
        var now = Stopwatch.GetTimestamp();
        var student = int.Parse(e.GetProperty("student").GetProperty("id").GetString()!.AsSpan(3), CultureInfo.InvariantCulture);
        ringLatency[student] = Stopwatch.GetElapsedTime(requestedAt[student], now).TotalMilliseconds;
        teacherOfStudent[student] = i;
        teacherCrossing[i] = studentCrossing[student] = teacherNode[i] != studentNode[student];
        var callId = e.GetProperty("callId").GetString()!;
        teacherOf[callId] = teacher;
        acceptInvokedAt[callId] = Stopwatch.GetTimestamp();
        try
        {
            await teacher.InvokeAsync("AcceptOffer", e.GetProperty("offerId").GetGuid());
            await NegotiateAsync(teacher, Guid.Parse(callId));
        }
        catch (InvalidOperationException exception)
        {
            // The call rings the next teacher after the offer's timeout; say why this one failed.
            Console.Error.WriteLine($"bt-{i} could not accept {callId}: {exception.Message}");
        }
    }
    teacher.OnSignal(sentAt => Received(sentAt, teacherCrossing[i]));
    var student = Connect($"bs-{i}", CallernRoles.Student, i % options.Nodes.Length);
    student.On("CallAccepted", e => _ = ConnectedAsync(e));
    async Task ConnectedAsync(JsonElement e)
    {
        var callId = e.GetProperty("callId").GetString()!;
        acceptLatency[i] = Stopwatch.GetElapsedTime(acceptInvokedAt[callId]).TotalMilliseconds;
        callOf[i] = callId;
        Interlocked.Increment(ref accepted);
        await NegotiateAsync(student, Guid.Parse(callId));
    }
    student.OnSignal(sentAt => Received(sentAt, studentCrossing[i]));
    await teacher.StartAsync();
    teacherNode[i] = NodeOf(teacher, (i / 2) % options.Nodes.Length);
    await teacher.InvokeAsync("SetAvailability", "available");
    await student.StartAsync();
    studentNode[i] = NodeOf(student, i % options.Nodes.Length);
    (teachers[i], students[i]) = (teacher, student);
});

// Requests at a steady rate, as students arrive, not all at once.
Console.Error.WriteLine($"{options.Calls} teachers available; requesting {options.Rate} calls/s");
var interval = TimeSpan.FromSeconds(1.0 / options.Rate);
var started = Stopwatch.StartNew();
var requests = new List<Task>();
for (var i = 0; i < options.Calls; i++)
{
    var due = interval * i - started.Elapsed;
    if (due > TimeSpan.Zero)
    {
        await Task.Delay(due);
    }
    requestedAt[i] = Stopwatch.GetTimestamp();
    requests.Add(RequestAsync(students[i], i));
}
await Task.WhenAll(requests);
for (var waited = 0; Volatile.Read(ref accepted) < options.Calls && waited < 300; waited++)
{
    await Task.Delay(100);
}
var connectedCalls = Volatile.Read(ref accepted);

// A refused request (`unavailable`: the node overloaded, or its backplane away) is counted
// and reported, not retried: the run measures what a student would have met. So is a request
// answered `queued`: there are as many teachers as students, so it waits for nothing.
async Task RequestAsync(LeanHubConnection student, int i)
{
    try
    {
        var call = await student.InvokeAsync("RequestCall", new { language = "en", level = "B1" });
        if (call.GetProperty("state").GetString() == "queued")
        {
            Interlocked.Increment(ref queuedRequests);
        }
    }
    catch (InvalidOperationException exception)
    {
        refusedRequests.AddOrUpdate(exception.Message, 1, (_, n) => n + 1);
        Console.Error.WriteLine($"bs-{i} could not request a call: {exception.Message}");
    }
}

var (quietEach, quietCpu, quietPostgreSql) = await QuietAsync($"{connectedCalls} calls accepted; measuring the platform without signals for {QuietSeconds} s");
var endedMidRelay = new ConcurrentDictionary<Guid, byte>();
var relay = await RelayAsync([.. Enumerable.Range(0, options.Calls).Where(i => callOf[i] is not null).SelectMany(i =>
{
    var callId = Guid.Parse(callOf[i]!);
    return new[] { (Side: students[i], Node: studentNode[i]), (Side: teacherOf[callOf[i]!], Node: teacherNode[teacherOfStudent[i]]) }
        .Select(party => new RelaySide(sentAt => SendOnCallAsync(party.Side, callId, sentAt), party.Node, studentCrossing[i]));
})]);
var (sent, signals, cpuEach, cpu) = (relay.Sent, relay.Signals, relay.CpuEach, relay.Cpu);
var warmRequests = Math.Min(options.Calls, options.Rate * RequestWarmupSeconds);

Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
    calls                   {options.Calls} requested at {options.Rate}/s against {options.Calls} available teachers; {connectedCalls} accepted; {queuedRequests} answered queued{(refusedRequests.IsEmpty ? "" : $"; refused: {string.Join(", ", refusedRequests.Select(r => $"{r.Value} × {r.Key}"))}")}{(endedMidRelay.IsEmpty ? "" : $"; {endedMidRelay.Count} ended by the platform while relaying")}
    request -> ring, first {RequestWarmupSeconds} s  {Summary(ringLatency[..warmRequests])}
    request -> ring         {Summary(ringLatency[warmRequests..])}
    accept -> notified, first {RequestWarmupSeconds} s  {Summary(acceptLatency[..warmRequests])}
    accept -> notified      {Summary(acceptLatency[warmRequests..])}
    """));
PrintRelay(relay, quietCpu, "platform", $"{connectedCalls} calls metering: media confirmations, ticks, timer events, heartbeats");
if (options.PgPid > 0)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"PostgreSQL CPU without signals   {quietPostgreSql:P0} of a core (its server processes); with the platform's {quietPostgreSql + quietCpu:P0} for the {connectedCalls} live calls"));
}
if (options.Nodes.Length > 1 || options.Route == "balancer")
{
    var crossingCalls = Enumerable.Range(0, options.Calls).Count(i => callOf[i] is not null && studentCrossing[i]);
    var relayed = signals.Where(x => x.SentAt >= relay.MeasureFrom).ToList();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
        nodes                   {options.Nodes.Length}; hub connections {(options.Route == "balancer"
            ? $"through the balancer at {options.Url} (each one's node read from X-Callern-Node)"
            : $"straight to the nodes (student i on node i % {options.Nodes.Length}, teacher i on node (i / 2) % {options.Nodes.Length})")}
        parties per node        {string.Join(", ", options.Nodes.Select((_, k) => $"node {k + 1} {teacherNode.Count(n => n == k) + studentNode.Count(n => n == k)}"))}
        calls across nodes      {crossingCalls} of {connectedCalls} ({(connectedCalls == 0 ? 0 : (double)crossingCalls / connectedCalls):P1})
        signals across nodes    {relay.SentCrossing} of {sent} sent ({(sent == 0 ? 0 : (double)relay.SentCrossing / sent):P1})
        relay, same node        {Summary(relayed.Where(x => !x.Crossing).Select(Milliseconds))}
        relay, across nodes     {Summary(relayed.Where(x => x.Crossing).Select(Milliseconds))}
        """));
}
if (options.Servers.Length > 1)
{
    // Per process: CPU per relayed signal of the whole run; a node's also per signal its own clients sent.
    string Each(int k, string name) => string.Create(CultureInfo.InvariantCulture,
        $"    {name,-22} {(sent == 0 ? 0 : cpuEach[k] / sent * 1e6),4:F0} µs per relayed signal ({cpuEach[k]:F1} s){(k < options.Nodes.Length && relay.SentFrom[k] > 0 ? $", {cpuEach[k] / relay.SentFrom[k] * 1e6:F0} µs per signal its clients sent ({relay.SentFrom[k]})" : "")}; without signals {quietEach[k]:P0} of a core");
    var names = options.Nodes.Select((_, k) => $"node {k + 1} (pid {options.Servers[k]})")
        .Concat(options.RedisPid > 0 ? [$"Redis (pid {options.RedisPid})"] : [])
        .Concat(options.BalancerPid > 0 ? [$"nginx (pid {options.BalancerPid})"] : []).ToArray();
    Console.WriteLine("CPU by process while relaying");
    for (var k = 0; k < names.Length; k++)
    {
        Console.WriteLine(Each(k, names[k]));
    }
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"    all of them            {(sent == 0 ? 0 : cpuEach.Sum() / sent * 1e6),4:F0} µs per relayed signal ({cpuEach.Sum():F1} s); without signals {quietEach.Sum():P0} of a core"));
}

if (Environment.GetEnvironmentVariable("BENCH_SAMPLES") is { } samplesPath)
{
    var (nowAt, nowUtc) = (Stopwatch.GetTimestamp(), DateTime.UtcNow);
    File.WriteAllLines(samplesPath, signals.Select(x => string.Create(CultureInfo.InvariantCulture,
        $"{x.SentAt / (double)Stopwatch.Frequency:F4} {Milliseconds(x):F2} {nowUtc - Stopwatch.GetElapsedTime(x.SentAt, nowAt):HH:mm:ss.fff}")));
    File.WriteAllLines(samplesPath + ".lag", relay.Lag.Select(x => string.Create(CultureInfo.InvariantCulture,
        $"{x.At / (double)Stopwatch.Frequency:F4} {x.Ms:F2} {nowUtc - Stopwatch.GetElapsedTime(x.At, nowAt):HH:mm:ss.fff}")));
    File.WriteAllLines(samplesPath + ".ring", Enumerable.Range(0, options.Calls).Select(i => string.Create(CultureInfo.InvariantCulture,
        $"{requestedAt[i] / (double)Stopwatch.Frequency:F4} {ringLatency[i]:F2} {acceptLatency[i]:F2} {nowUtc - Stopwatch.GetElapsedTime(requestedAt[i], nowAt):HH:mm:ss.fff}")));
}
await stopConfirming.CancelAsync();
await Task.WhenAll(confirmations);
await ForEachAsync(options.Calls, async i =>
{
    if (callOf[i] is { } callId && !endedMidRelay.ContainsKey(Guid.Parse(callId)))
    {
        await students[i].InvokeAsync("EndCall", Guid.Parse(callId));
    }
    await students[i].DisposeAsync();
    await teachers[i].DisposeAsync();
});
return connectedCalls == options.Calls && endedMidRelay.IsEmpty ? 0 : 1;

// The servers' CPU over QuietSeconds while the parties are connected and nobody signals: per
// server, for the nodes together, and PostgreSQL's (--pg-pid), in cores.
async Task<(double[] Each, double Nodes, double PostgreSql)> QuietAsync(string what)
{
    // The setup's garbage is collected now, not in the middle of the relay.
    GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
    Console.Error.WriteLine(what);
    var (quietBefore, postgreSqlBefore) = (CpuSeconds(options.Servers), CpuSecondsOfTree(options.PgPid));
    await Task.Delay(TimeSpan.FromSeconds(QuietSeconds));
    var each = CpuSeconds(options.Servers).Select((s, k) => (s - quietBefore[k]) / QuietSeconds).ToArray();
    var postgreSql = (CpuSecondsOfTree(options.PgPid) - postgreSqlBefore) / QuietSeconds;
    Console.Error.WriteLine($"relaying for {options.RelaySeconds} s");
    return (each, each[..options.Nodes.Length].Sum(), postgreSql);
}

// Relay: every side sends a 500-byte signal every --every ms on a fixed schedule from a random
// offset (a late answer does not push the next send back, so slow answers are not hidden), until
// its Send answers false. The first WarmupSeconds (the first signals of every call: caches, JIT)
// are reported on their own.
async Task<RelayRun> RelayAsync(IReadOnlyList<RelaySide> sides)
{
    var relayStarts = Stopwatch.GetTimestamp();
    var measureFrom = relayStarts + WarmupSeconds * Stopwatch.Frequency;
    var relayEnds = measureFrom + (long)(options.RelaySeconds * Stopwatch.Frequency);
    var every = options.SignalEveryMs * Stopwatch.Frequency / 1000;
    var sent = 0L;
    var sentCrossing = 0L;
    var sentFrom = new long[options.Nodes.Length];
    var measuring = Task.Run(async () =>
    {
        await Task.Delay(Stopwatch.GetElapsedTime(relayStarts, measureFrom));
        return (Servers: CpuSeconds(options.Servers), Self: Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds, Machine: MachineCpu());
    });
    // The generator's own stalls: how late a 10 ms timer wakes it while relaying. Latency that the
    // generator's lag does not explain is the server's.
    var lag = new List<(long At, double Ms)>();
    var probing = Task.Run(async () =>
    {
        while (Stopwatch.GetTimestamp() < relayEnds)
        {
            var before = Stopwatch.GetTimestamp();
            await Task.Delay(10);
            if (before >= measureFrom)
            {
                lag.Add((before, Math.Max(0, Stopwatch.GetElapsedTime(before).TotalMilliseconds - 10)));
            }
        }
    });
    await Task.WhenAll(sides.Select(async side =>
    {
        for (var due = relayStarts + Random.Shared.NextInt64(every); due < relayEnds; due += every)
        {
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait);
            }
            var sentAt = Stopwatch.GetTimestamp();
            if (!await side.Send(sentAt))
            {
                break;
            }
            if (sentAt >= measureFrom)
            {
                Interlocked.Increment(ref sent);
                Interlocked.Increment(ref sentFrom[side.Node]);
                if (side.Crossing)
                {
                    Interlocked.Increment(ref sentCrossing);
                }
            }
        }
    }));
    await Task.Delay(1000);
    await probing;
    var before = await measuring;
    var signals = received.AsSpan(0, (int)Math.Min(received.Length, Volatile.Read(ref receivedCount))).ToArray();
    var cpuEach = CpuSeconds(options.Servers).Select((s, k) => s - before.Servers[k]).ToArray();
    var self = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - before.Self;
    var machineAfter = MachineCpu();
    var machineBusy = 1 - (machineAfter.Idle - before.Machine.Idle) / (machineAfter.Total - before.Machine.Total);
    return new RelayRun(measureFrom, sent, sentCrossing, sentFrom, lag, signals, cpuEach, cpuEach[..options.Nodes.Length].Sum(), self, machineBusy);
}

// A signal on a call; false once the platform ended the call (under load, connection_lost: its
// confirmations were late): the run goes on and reports how many.
async Task<bool> SendOnCallAsync(LeanHubConnection side, Guid callId, long sentAt)
{
    try
    {
        await side.SendSignalAsync(callId, sentAt, padding);
        return true;
    }
    catch (InvalidOperationException exception) when (exception.Message.Contains("call_ended", StringComparison.Ordinal))
    {
        if (endedMidRelay.TryAdd(callId, 0))
        {
            Console.Error.WriteLine($"call {callId} ended while relaying: {exception.Message}");
        }
        return false;
    }
}

// The relay's figures, the same lines for the platform and for the PeerJS server, then one
// `summary` line of the figures the peer comparison (bench/peer-comparison.sh) sets side by side.
void PrintRelay(RelayRun run, double quietCpu, string server, string quietWork)
{
    var (sent, cpu, self) = (run.Sent, run.Cpu, run.Self);
    var relayLatency = run.Signals.Where(x => x.SentAt >= run.MeasureFrom).Select(Milliseconds).ToList();
    var peakMiB = options.Servers[..options.Nodes.Length].Sum(PeakMemoryMiB);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
        relay, first {WarmupSeconds} s     {Summary(run.Signals.Where(x => x.SentAt < run.MeasureFrom).Select(Milliseconds))}
        relay ({options.RelaySeconds} s, every {options.SignalEveryMs} ms) {sent} signals sent, {relayLatency.Count} received ({relayLatency.Count / options.RelaySeconds:F0}/s): {Summary(relayLatency)}
        load generator's own lag         {Summary(run.Lag.Select(x => x.Ms))} (a 10 ms timer's lateness while relaying)
        {server} CPU without signals {quietCpu:P0} of a core ({quietWork})
        {server} CPU per relayed signal {(sent == 0 ? 0 : cpu / sent * 1e6):F0} µs in all ({cpu:F1} s of CPU), {(sent == 0 ? 0 : Math.Max(0, cpu - quietCpu * (options.RelaySeconds + 1)) / sent * 1e6):F0} µs above the quiet load; load generator {(sent == 0 ? 0 : self / sent * 1e6):F0} µs ({self:F1} s)
        {server} peak memory {peakMiB:F0} MiB (resident, the high-water mark{(options.Nodes.Length > 1 ? " of the nodes together" : "")})
        machine CPU busy while relaying  {run.MachineBusy:P0} of {Environment.ProcessorCount} cores
        summary {server} relay_p99_ms={Percentile([.. relayLatency.Order()], 0.99):F1} cpu_us_per_signal={(sent == 0 ? 0 : cpu / sent * 1e6):F0} quiet_cores={quietCpu:F3} peak_mib={peakMiB:F0}
        """));
}

// The PeerJS server under the same load: --calls pairs of connections, each side sending the
// same signals on the same schedule to the other, through the server.
async Task<int> PeerJsAsync(Uri server)
{
    var pairs = new (PeerJsConnection A, PeerJsConnection B)[options.Calls];
    await ForEachAsync(options.Calls, async i =>
    {
        var (a, b) = (new PeerJsConnection(server, $"pa-{i}"), new PeerJsConnection(server, $"pb-{i}"));
        a.OnSignal(sentAt => Received(sentAt, crossing: false));
        b.OnSignal(sentAt => Received(sentAt, crossing: false));
        await a.StartAsync();
        await b.StartAsync();
        pairs[i] = (a, b);
    });
    var (_, quietCpu, _) = await QuietAsync($"{options.Calls} pairs connected to the PeerJS server; measuring it without signals for {QuietSeconds} s");
    var run = await RelayAsync([.. pairs.Select((pair, i) => new[]
    {
        new RelaySide(async sentAt => { await pair.A.SendSignalAsync($"pb-{i}", sentAt, padding); return true; }, 0, false),
        new RelaySide(async sentAt => { await pair.B.SendSignalAsync($"pa-{i}", sentAt, padding); return true; }, 0, false),
    }).SelectMany(sides => sides)]);
    Console.WriteLine($"pairs                   {options.Calls} pairs ({options.Calls * 2} connections) on the PeerJS server at {server}");
    PrintRelay(run, quietCpu, "PeerJS server", "heartbeats");
    await ForEachAsync(options.Calls, async i =>
    {
        await pairs[i].A.DisposeAsync();
        await pairs[i].B.DisposeAsync();
    });
    return run.Sent > 0 ? 0 : 1;
}

// Straight to the node the rule names, or through --url (the balancer), reading where it went.
LeanHubConnection Connect(string user, string role, int node) => options.Route == "balancer"
    ? new(new Uri(baseUri, "/hubs/calls"), Token(user, role), readServingNode: true)
    : new(new Uri(options.Nodes[node], "/hubs/calls"), Token(user, role));

int NodeOf(LeanHubConnection connection, int placed)
{
    if (options.Route != "balancer")
    {
        return placed;
    }
    var node = Array.FindIndex(options.Nodes, n => n.Authority == connection.ServingNode);
    return node >= 0 ? node : throw new InvalidOperationException($"The balancer's X-Callern-Node '{connection.ServingNode}' names none of --nodes.");
}

// As a browser does after the accept: its side of the negotiation (an offer or answer and two ICE
// candidates, not timed), then, as the SDKs do, it confirms the media it receives at once and every
// 4 s from then on: when both sides have, metering starts and the setup timeout no longer applies.
async Task NegotiateAsync(LeanHubConnection side, Guid callId)
{
    for (var i = 0; i < 3; i++)
    {
        await side.SendSignalAsync(callId, NotTimed, padding);
    }
    confirmations.Add(ConfirmMediaAsync(side, callId));
}

async Task ConfirmMediaAsync(LeanHubConnection side, Guid callId)
{
    var inboundBytes = 0L;
    var answeredAt = 0L;
    try
    {
        while (true)
        {
            inboundBytes += 50_000;
            // As the TypeScript SDK does: once billing, one confirmation in 15 s waits for its answer.
            var answered = answeredAt == 0 || Stopwatch.GetElapsedTime(answeredAt) >= TimeSpan.FromSeconds(15);
            if (answered)
            {
                answeredAt = Stopwatch.GetTimestamp();
            }
            await side.ConfirmMediaAsync(callId, inboundBytes, answered);
            await Task.Delay(Callern.Sdk.Realtime.MediaConfirmer.Interval, stopConfirming.Token);
        }
    }
    catch (OperationCanceledException)
    {
        // The calls are ending.
    }
}

void Received(long sentAt, bool crossing)
{
    if (sentAt == NotTimed)
    {
        return;
    }
    var at = Interlocked.Increment(ref receivedCount) - 1;
    if (at < received.Length)
    {
        received[at] = (sentAt, Stopwatch.GetTimestamp(), crossing);
    }
}

static double Milliseconds((long SentAt, long ReceivedAt, bool Crossing) signal) => Stopwatch.GetElapsedTime(signal.SentAt, signal.ReceivedAt).TotalMilliseconds;

static string Summary(IEnumerable<double> samples)
{
    var sorted = samples.Where(x => !double.IsNaN(x)).Order().ToArray();
    return sorted.Length == 0 ? "no samples" : string.Create(CultureInfo.InvariantCulture,
        $"p50 {Percentile(sorted, 0.5):F1} ms  p99 {Percentile(sorted, 0.99):F1} ms  max {sorted[^1]:F1} ms  (n = {sorted.Length})");
}

// The p-th percentile (nearest rank) of samples sorted in ascending order; NaN without any.
static double Percentile(double[] sorted, double p) =>
    sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

// A process's peak resident memory (VmHWM) in MiB, from /proc (Linux); 0 without a pid.
static double PeakMemoryMiB(int pid) => pid <= 0 ? 0
    : File.ReadLines($"/proc/{pid}/status").Where(line => line.StartsWith("VmHWM:", StringComparison.Ordinal))
        .Select(line => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0).Single();

static double[] CpuSeconds(int[] pids) => pids.Select(CpuSecondsOf).ToArray();

// utime + stime of a process, in seconds, from /proc (Linux); 0 without a pid.
static double CpuSecondsOf(int pid)
{
    if (pid <= 0)
    {
        return 0;
    }
    var fields = File.ReadAllText($"/proc/{pid}/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
    return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
}

// The CPU seconds of a process and all its descendants (PostgreSQL's postmaster and its server
// processes); a process that exits meanwhile counts 0.
static double CpuSecondsOfTree(int pid)
{
    try
    {
        return pid <= 0 ? 0 : CpuSecondsOf(pid) + File.ReadAllText($"/proc/{pid}/task/{pid}/children")
            .Split(' ', StringSplitOptions.RemoveEmptyEntries).Sum(child => CpuSecondsOfTree(int.Parse(child, CultureInfo.InvariantCulture)));
    }
    catch (IOException)
    {
        return 0;
    }
}

// Idle and total jiffies of all cores, from /proc/stat (Linux).
static (double Idle, double Total) MachineCpu()
{
    var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
        .Select(f => double.Parse(f, CultureInfo.InvariantCulture)).ToArray();
    return (fields[3] + fields[4], fields.Sum());
}

static Task ForEachAsync(int count, Func<int, Task> body) =>
    Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) => await body(i));

/// <summary>One side of a relayed conversation: sends a signal stamped with the given time, false once it may not go on.</summary>
internal sealed record RelaySide(Func<long, Task<bool>> Send, int Node, bool Crossing);

/// <summary>What a relay run measured: the signals from <paramref name="MeasureFrom"/> on count, the earlier ones are its warm-up.</summary>
internal sealed record RelayRun(
    long MeasureFrom, long Sent, long SentCrossing, long[] SentFrom, List<(long At, double Ms)> Lag,
    (long SentAt, long ReceivedAt, bool Crossing)[] Signals, double[] CpuEach, double Cpu, double Self, double MachineBusy);

/// <param name="Nodes">The nodes' own URLs (--nodes, comma-separated; --url alone by default).</param>
/// <param name="Route">How hub connections reach a node: <c>nodes</c> (straight, by the placement rule) or <c>balancer</c> (through --url).</param>
/// <param name="Pids">The nodes' pids, in the order of <paramref name="Nodes"/> (--pid, comma-separated; 0: not measured).</param>
/// <param name="PgPid">--pg-pid: PostgreSQL's postmaster, whose server processes' CPU the quiet phase reads (0: not read).</param>
/// <param name="PeerJs">--peerjs: a PeerJS server's WebSocket endpoint (ws://host:port/peerjs) to drive instead of the platform, --pid its pid.</param>
internal sealed record Args(string Url, string Demo, int Calls, int Rate, int RelaySeconds, int SignalEveryMs,
    Uri[] Nodes, string Route, int[] Pids, int RedisPid, int BalancerPid, int PgPid, Uri? PeerJs)
{
    /// <summary>The pids whose CPU is read: the nodes' (0 for a node without one), then Redis's and the balancer's when given.</summary>
    public int[] Servers { get; } = [.. Nodes.Select((_, k) => k < Pids.Length ? Pids[k] : 0), .. RedisPid > 0 ? [RedisPid] : Array.Empty<int>(), .. BalancerPid > 0 ? [BalancerPid] : Array.Empty<int>()];

    public static Args Parse(string[] args)
    {
        var line = new CommandLine(args);
        var url = line.Text("--url", "http://127.0.0.1:5080");
        var route = line.Text("--route", "nodes");
        if (route is not ("nodes" or "balancer"))
        {
            throw new ArgumentException($"--route is nodes or balancer, not '{route}'");
        }
        return new Args(url, line.Text("--demo", ".callern/demo.json"),
            line.Number("--calls", 1000), line.Number("--rate", 50), line.Number("--relay", 20), line.Number("--every", 500),
            [.. line.Text("--nodes", url).Split(',').Select(n => new Uri(n))], route,
            [.. line.Text("--pid", "0").Split(',').Select(p => int.Parse(p, CultureInfo.InvariantCulture))],
            line.Number("--redis-pid", 0), line.Number("--balancer-pid", 0), line.Number("--pg-pid", 0),
            line.Text("--peerjs", "") is { Length: > 0 } peerJs ? new Uri(peerJs) : null);
    }
}
