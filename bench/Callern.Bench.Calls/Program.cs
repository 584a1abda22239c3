// Calls under load against a running platform: N available teachers and N students with minutes;
// students request calls at a steady rate and teachers accept at once (request → ring and
// accept → both notified latency), both sides negotiate and report their media connected as a
// browser does, measures the platform's CPU while every call meters and nobody signals, then every
// call's two sides exchange 500-byte signals every --every milliseconds, 500 by default (relay
// latency; the platform's, its own and the machine's CPU from /proc; its own timer lag).
// BENCH_SAMPLES=<file> also writes every signal's send time and latency, the lag, and every
// request's time with its ring and accept latency (<file>.ring), for timelines. bench/calls.sh
// starts a throwaway platform and runs this against it.
//
//   dotnet run -c Release -- --url http://127.0.0.1:5080 --demo .callern/demo.json \
//       --calls 1000 --rate 50 --relay 20 --every 500 --pid <platform pid>
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Callern.Sdk;

var options = Args.Parse(args);
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
// Every relayed signal's send and receive times, in an array sized up front: a growing collection
// would allocate large arrays mid-run and make the generator pause for its own garbage collection.
const int WarmupSeconds = 5;
var received = new (long SentAt, long ReceivedAt)[options.Calls * 2 * ((WarmupSeconds + options.RelaySeconds) * 1000 / options.SignalEveryMs + 2)];
var receivedCount = 0L;
// Every side's loop of media confirmations, from its accept to the end of the run.
var confirmations = new System.Collections.Concurrent.ConcurrentBag<Task>();
using var stopConfirming = new CancellationTokenSource();
var callOf = new string?[options.Calls];
var teacherOf = new ConcurrentDictionary<string, LeanHubConnection>();
var accepted = 0;
var padding = new string('x', 480);
const long NotTimed = 0;

var teachers = new LeanHubConnection[options.Calls];
var students = new LeanHubConnection[options.Calls];
await ForEachAsync(options.Calls, async i =>
{
    var teacher = Connect($"bt-{i}", CallernRoles.Teacher);
    teacher.On("IncomingCall", e => _ = AcceptAsync(e));
    async Task AcceptAsync(JsonElement e)
    {
        var now = Stopwatch.GetTimestamp();
        var student = int.Parse(e.GetProperty("student").GetProperty("id").GetString()!.AsSpan(3), CultureInfo.InvariantCulture);
        ringLatency[student] = Stopwatch.GetElapsedTime(requestedAt[student], now).TotalMilliseconds;
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
    teacher.OnSignal(Received);
    var student = Connect($"bs-{i}", CallernRoles.Student);
    student.On("CallAccepted", e => _ = ConnectedAsync(e));
    async Task ConnectedAsync(JsonElement e)
    {
        var callId = e.GetProperty("callId").GetString()!;
        acceptLatency[i] = Stopwatch.GetElapsedTime(acceptInvokedAt[callId]).TotalMilliseconds;
        callOf[i] = callId;
        Interlocked.Increment(ref accepted);
        await NegotiateAsync(student, Guid.Parse(callId));
    }
    student.OnSignal(Received);
    await teacher.StartAsync();
    await teacher.InvokeAsync("SetAvailability", "available");
    await student.StartAsync();
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
    requests.Add(students[i].InvokeAsync("RequestCall", new { language = "en", level = "B1" }));
}
await Task.WhenAll(requests);
for (var waited = 0; Volatile.Read(ref accepted) < options.Calls && waited < 300; waited++)
{
    await Task.Delay(100);
}
var connectedCalls = Volatile.Read(ref accepted);

// The platform's own work while every call meters and nobody signals (ticks, timers, heartbeats),
// so the relay's cost per signal can be told from it.
const int QuietSeconds = 10;
// The setup's garbage is collected now, not in the middle of the relay.
GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
Console.Error.WriteLine($"{connectedCalls} calls accepted; measuring the platform without signals for {QuietSeconds} s");
var quietBefore = CpuSeconds(options.Pid);
await Task.Delay(TimeSpan.FromSeconds(QuietSeconds));
var quietCpu = (CpuSeconds(options.Pid) - quietBefore) / QuietSeconds;
Console.Error.WriteLine($"relaying for {options.RelaySeconds} s");

// Relay: both sides of every call send a 500-byte signal every --every ms on a fixed schedule from
// a random offset (a late answer does not push the next send back, so slow answers are not hidden).
// The first WarmupSeconds (the first signals of every call: caches, JIT) are reported on their own.
var relayStarts = Stopwatch.GetTimestamp();
var measureFrom = relayStarts + WarmupSeconds * Stopwatch.Frequency;
var relayEnds = measureFrom + (long)(options.RelaySeconds * Stopwatch.Frequency);
var every = options.SignalEveryMs * Stopwatch.Frequency / 1000;
var sent = 0L;
var measuring = Task.Run(async () =>
{
    await Task.Delay(Stopwatch.GetElapsedTime(relayStarts, measureFrom));
    return (Platform: CpuSeconds(options.Pid), Self: Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds, Machine: MachineCpu());
});
// The generator's own stalls: how late a 10 ms timer wakes it while relaying. Latency that the
// generator's lag does not explain is the platform's.
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
await Task.WhenAll(Enumerable.Range(0, options.Calls).Where(i => callOf[i] is not null).SelectMany(i => new[] { students[i], teacherOf[callOf[i]!] }.Select(async side =>
{
    var callId = Guid.Parse(callOf[i]!);
    for (var due = relayStarts + Random.Shared.NextInt64(every); due < relayEnds; due += every)
    {
        var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait);
        }
        var sentAt = Stopwatch.GetTimestamp();
        await side.SendSignalAsync(callId, sentAt, padding);
        if (sentAt >= measureFrom)
        {
            Interlocked.Increment(ref sent);
        }
    }
})));
await Task.Delay(1000);
await probing;
var before = await measuring;
var signals = received.AsSpan(0, (int)Math.Min(received.Length, Volatile.Read(ref receivedCount))).ToArray();
var warmupLatency = signals.Where(x => x.SentAt < measureFrom).Select(Milliseconds).ToList();
var relayLatency = signals.Where(x => x.SentAt >= measureFrom).Select(Milliseconds).ToList();
var cpu = CpuSeconds(options.Pid) - before.Platform;
var self = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - before.Self;
var machineAfter = MachineCpu();
var machineBusy = 1 - (machineAfter.Idle - before.Machine.Idle) / (machineAfter.Total - before.Machine.Total);
var warmRequests = Math.Min(options.Calls, options.Rate * RequestWarmupSeconds);

Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
    calls                   {options.Calls} requested at {options.Rate}/s against {options.Calls} available teachers; {connectedCalls} accepted
    request -> ring, first {RequestWarmupSeconds} s  {Summary(ringLatency[..warmRequests])}
    request -> ring         {Summary(ringLatency[warmRequests..])}
    accept -> notified, first {RequestWarmupSeconds} s  {Summary(acceptLatency[..warmRequests])}
    accept -> notified      {Summary(acceptLatency[warmRequests..])}
    relay, first {WarmupSeconds} s     {Summary(warmupLatency)}
    relay ({options.RelaySeconds} s, every {options.SignalEveryMs} ms) {sent} signals sent, {relayLatency.Count} received ({relayLatency.Count / options.RelaySeconds:F0}/s): {Summary(relayLatency)}
    load generator's own lag         {Summary(lag.Select(x => x.Ms))} (a 10 ms timer's lateness while relaying)
    platform CPU without signals     {quietCpu:P0} of a core ({connectedCalls} calls metering: media confirmations, ticks, timer events, heartbeats)
    platform CPU per relayed signal  {(sent == 0 ? 0 : cpu / sent * 1e6):F0} µs in all ({cpu:F1} s of CPU), {(sent == 0 ? 0 : Math.Max(0, cpu - quietCpu * (options.RelaySeconds + 1)) / sent * 1e6):F0} µs above the quiet load; load generator {(sent == 0 ? 0 : self / sent * 1e6):F0} µs ({self:F1} s)
    machine CPU busy while relaying  {machineBusy:P0} of {Environment.ProcessorCount} cores
    """));

if (Environment.GetEnvironmentVariable("BENCH_SAMPLES") is { } samplesPath)
{
    var (nowAt, nowUtc) = (Stopwatch.GetTimestamp(), DateTime.UtcNow);
    File.WriteAllLines(samplesPath, signals.Select(x => string.Create(CultureInfo.InvariantCulture,
        $"{x.SentAt / (double)Stopwatch.Frequency:F4} {Milliseconds(x):F2} {nowUtc - Stopwatch.GetElapsedTime(x.SentAt, nowAt):HH:mm:ss.fff}")));
    File.WriteAllLines(samplesPath + ".lag", lag.Select(x => string.Create(CultureInfo.InvariantCulture,
        $"{x.At / (double)Stopwatch.Frequency:F4} {x.Ms:F2} {nowUtc - Stopwatch.GetElapsedTime(x.At, nowAt):HH:mm:ss.fff}")));
    File.WriteAllLines(samplesPath + ".ring", Enumerable.Range(0, options.Calls).Select(i => string.Create(CultureInfo.InvariantCulture,
        $"{requestedAt[i] / (double)Stopwatch.Frequency:F4} {ringLatency[i]:F2} {acceptLatency[i]:F2} {nowUtc - Stopwatch.GetElapsedTime(requestedAt[i], nowAt):HH:mm:ss.fff}")));
}
await stopConfirming.CancelAsync();
await Task.WhenAll(confirmations);
await ForEachAsync(options.Calls, async i =>
{
    if (callOf[i] is { } callId)
    {
        await students[i].InvokeAsync("EndCall", Guid.Parse(callId));
    }
    await students[i].DisposeAsync();
    await teachers[i].DisposeAsync();
});
return connectedCalls == options.Calls ? 0 : 1;

LeanHubConnection Connect(string user, string role) => new(new Uri(baseUri, "/hubs/calls"), Token(user, role));

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

void Received(long sentAt)
{
    if (sentAt == NotTimed)
    {
        return;
    }
    var at = Interlocked.Increment(ref receivedCount) - 1;
    if (at < received.Length)
    {
        received[at] = (sentAt, Stopwatch.GetTimestamp());
    }
}

static double Milliseconds((long SentAt, long ReceivedAt) signal) => Stopwatch.GetElapsedTime(signal.SentAt, signal.ReceivedAt).TotalMilliseconds;

static string Summary(IEnumerable<double> samples)
{
    var sorted = samples.Where(x => !double.IsNaN(x)).Order().ToArray();
    if (sorted.Length == 0)
    {
        return "no samples";
    }
    double P(double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
    return string.Create(CultureInfo.InvariantCulture, $"p50 {P(0.5):F1} ms  p99 {P(0.99):F1} ms  max {sorted[^1]:F1} ms  (n = {sorted.Length})");
}

// utime + stime of the platform process, in seconds, from /proc (Linux); 0 without a pid.
static double CpuSeconds(int pid)
{
    if (pid <= 0)
    {
        return 0;
    }
    var fields = File.ReadAllText($"/proc/{pid}/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
    return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
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

internal sealed record Args(string Url, string Demo, int Calls, int Rate, int RelaySeconds, int SignalEveryMs, int Pid)
{
    public static Args Parse(string[] args)
    {
        var line = new CommandLine(args);
        return new Args(line.Text("--url", "http://127.0.0.1:5080"), line.Text("--demo", ".callern/demo.json"),
            line.Number("--calls", 1000), line.Number("--rate", 50), line.Number("--relay", 20), line.Number("--every", 500), line.Number("--pid", 0));
    }
}
