using System.Text.Json;
using Callern.Sdk;
using Callern.Sdk.Realtime;

// Console bots on the C# SDK, for demos and load: a teacher who stays available and accepts
// every call, and a student who places calls and hangs up after a while. Bots have no camera:
// each confirms media with a counter that grows as if media arrived (MediaConfirmer, every 2 s),
// so that the platform meters and bills the call. After a restart of the platform, a bot rejoins
// its live call (LiveCall → RejoinCallAsync) and confirms again.
//
//   dotnet run --project samples/console-bots -- teacher teacher-emma [--demo .callern/demo.json]
//   dotnet run --project samples/console-bots -- student student-ana --seconds 20 --calls 3
if (args.Length < 2 || args[0] is not ("teacher" or "student"))
{
    Console.Error.WriteLine("usage: console-bots teacher|student <user-id> [--demo <demo.json>] [--seconds N] [--calls N]");
    return 2;
}
var role = args[0];
var userId = args[1];
string Option(string name, string fallback) =>
    Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
var demo = JsonSerializer.Deserialize<DemoKeys>(File.ReadAllText(Option("--demo", ".callern/demo.json")), JsonSerializerOptions.Web)
    ?? throw new InvalidOperationException("demo.json is empty");

// What the school's backend does for a signed-in user: sign a short-lived token with the API key.
var tokens = new AccessTokenBuilder(demo.ApiKeyId, demo.ApiKeySecret);
await using var realtime = new CallernRealtimeClient(new CallernRealtimeOptions
{
    BaseUrl = new Uri(demo.BaseUrl),
    AccessTokenProvider = _ => ValueTask.FromResult(tokens.ForUser(userId, role, userId).ValidFor(TimeSpan.FromHours(1)).Build()),
});
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
void Log(string message) => Console.WriteLine($"{DateTime.Now:HH:mm:ss} {userId}: {message}");

// A bot's "media": a counter that grows by a video call's worth of bytes per second.
var mediaStarted = DateTime.UtcNow;
long InboundBytes() => (long)(DateTime.UtcNow - mediaStarted).TotalSeconds * 150_000;
var confirmers = new Dictionary<Guid, MediaConfirmer>();
void ConfirmMedia(Guid callId)
{
    lock (confirmers)
    {
        if (!confirmers.ContainsKey(callId))
        {
            confirmers[callId] = realtime.StartMediaConfirmations(callId, InboundBytes);
        }
    }
}

// Exactly once per call on each side, also for the teacher, who gets AcceptOfferAsync's answer too.
realtime.CallAccepted += e =>
{
    ConfirmMedia(e.CallId);
    return Task.CompletedTask;
};
realtime.LiveCall += async e =>
{
    try
    {
        var rejoined = await realtime.RejoinCallAsync(e.CallId);
        Log($"rejoined call {e.CallId} ({rejoined.State}) with {rejoined.Peer.DisplayName}");
        ConfirmMedia(e.CallId);
    }
    catch (CallernRealtimeException refused) when (refused.Code is "call_ended" or "call_not_found")
    {
        Log($"call {e.CallId} is over ({refused.Code})");
    }
};
realtime.PeerConnection += e =>
{
    Log(e.Connected ? "peer back" : $"peer reconnecting… (the call ends at {e.GraceEndsAt:HH:mm:ss} unless media flows again)");
    return Task.CompletedTask;
};
realtime.CallEnded += e =>
{
    Log($"call {e.CallId} ended ({e.Reason}), billed {e.BilledSeconds} s");
    return Task.CompletedTask;
};
await realtime.StartAsync(stop.Token);

if (role == "teacher")
{
    realtime.IncomingCall += async offer =>
    {
        Log($"{offer.Student.DisplayName} is calling ({offer.Language} {offer.Level}); accepting");
        try
        {
            // CallAccepted (above) starts the media confirmations.
            await realtime.AcceptOfferAsync(offer.OfferId);
        }
        catch (CallernRealtimeException refused)
        {
            Log($"could not accept: {refused.Code}");
        }
    };
    await realtime.SetAvailabilityAsync(PresenceStatus.Available, stop.Token);
    Log("available; Ctrl+C to stop");
    await Task.Delay(Timeout.Infinite, stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
    return 0;
}

var talkFor = TimeSpan.FromSeconds(int.Parse(Option("--seconds", "15"), System.Globalization.CultureInfo.InvariantCulture));
var calls = int.Parse(Option("--calls", "1"), System.Globalization.CultureInfo.InvariantCulture);
var me = await new CallernClient(new HttpClient
{
    BaseAddress = new Uri(demo.BaseUrl),
    DefaultRequestHeaders = { Authorization = new("Bearer", tokens.ForUser(userId, role, userId).Build()) },
}).GetMeAsync(stop.Token);
for (var n = 1; n <= calls && !stop.IsCancellationRequested; n++)
{
    var accepted = new TaskCompletionSource<CallAcceptedEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
    var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    Task OnAccepted(CallAcceptedEvent e) => Task.FromResult(accepted.TrySetResult(e));
    Task OnEnded(CallEndedEvent e) => Task.FromResult(ended.TrySetResult());
    realtime.CallAccepted += OnAccepted;
    realtime.CallEnded += OnEnded;
    try
    {
        var call = await realtime.RequestCallAsync(new CallRequest { Language = me.Student?.TargetLanguage ?? "en", Level = me.Student?.Level ?? "B1" }, stop.Token);
        Log($"call {n}/{calls}: requested ({call.State})");
        var started = await Task.WhenAny(accepted.Task, ended.Task);
        if (started == accepted.Task)
        {
            Log($"talking to {accepted.Task.Result.Peer.DisplayName} for {talkFor.TotalSeconds} s");
            await Task.WhenAny(Task.Delay(talkFor, stop.Token), ended.Task).ContinueWith(_ => { }, TaskScheduler.Default);
            await realtime.EndCallAsync(call.Id, CancellationToken.None);
            await ended.Task;
        }
    }
    catch (CallernRealtimeException refused)
    {
        Log($"call refused: {refused.Code}");
        return 1;
    }
    finally
    {
        realtime.CallAccepted -= OnAccepted;
        realtime.CallEnded -= OnEnded;
    }
}
return 0;

/// <summary>The parts of ./run.sh's demo.json a school backend would have in its configuration.</summary>
internal sealed record DemoKeys(string BaseUrl, string ApiKeyId, string ApiKeySecret);
