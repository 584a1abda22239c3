using System.Text.Json;
using Callern.Platform.Tests.Calls;
using Callern.Platform.Tests.Calls.Faults;
using Callern.Platform.Tests.Classroom;
using Callern.Sdk;
using Callern.Sdk.Realtime;
using Xunit.Abstractions;

namespace Callern.Platform.Tests.ScaleOut;

/// <summary>
/// Issue 19: two nodes on one database and one Redis. The student's app is connected to node 1, the
/// teacher's and the admin's to node 2, so every event of a lesson is sent on one node and must
/// reach a user on the other through the backplane: presence, ringing, accept, signals, media state,
/// chat, whiteboard, a shared file, the call's timer, the end. Default settings, the real clock, the SDK's client.
/// </summary>
public sealed class CrossNodeTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(10);

    private readonly FaultLab _lab = new(output);

    [Fact]
    public async Task Every_event_of_a_lesson_reaches_the_party_on_the_other_node()
    {
        await _lab.StartRedisAsync(nodes: 2);
        var nodeA = await _lab.StartNodeAsync(1);
        var nodeB = await _lab.StartNodeAsync(2);
        var tenant = await nodeA.CreateTenantAsync();
        await nodeA.StudentWithSecondsAsync(tenant, "s", 600);
        await nodeA.TeacherAsync(tenant, "t");
        var admin = _lab.Own(new CallernRealtimeClient(new CallernRealtimeOptions
        {
            BaseUrl = nodeA.BaseAddress,
            AccessTokenProvider = _ => ValueTask.FromResult(nodeA.Token(tenant, "admin-1", CallernRoles.Admin)),
        }));
        var presence = Next<TeacherPresence>(h => admin.PresenceChanged += h, p => p.Status == PresenceStatus.Available);
        await admin.StartAsync();
        var teacher = _lab.Own(await MediaParty.JoinAsync(nodeB.BaseAddress, () => nodeB.Token(tenant, "t", CallernRoles.Teacher), "t", output));
        var student = _lab.Own(await MediaParty.JoinAsync(nodeA.BaseAddress, () => nodeA.Token(tenant, "s", CallernRoles.Student), "s", output));

        // Presence: set on node B, pushed to the admin on node A.
        await teacher.Client.SetAvailabilityAsync(PresenceStatus.Available);
        Assert.Equal("t", (await presence.WaitAsync(Within)).TeacherId);

        // Ringing: requested on node A, offered to the teacher on node B; accepted on B, told to the student on A.
        var accepted = Next<CallAcceptedEvent>(h => student.Client.CallAccepted += h);
        var call = await student.Client.RequestCallAsync(new CallRequest { Language = "en", Level = "B1" });
        var offer = await teacher.Incoming.WaitAsync(Within);
        Assert.Equal(call.Id, offer.CallId);
        await teacher.Client.AcceptOfferAsync(offer.OfferId);
        Assert.Equal(call.Id, (await accepted.WaitAsync(Within)).CallId);

        // Signals both ways.
        var atTeacher = Next<SignalEvent>(h => teacher.Client.SignalReceived += h);
        var atStudent = Next<SignalEvent>(h => student.Client.SignalReceived += h);
        await student.Client.SendSignalAsync(call.Id, new SignalMessage { Type = "offer", Payload = "v=0 student" });
        await teacher.Client.SendSignalAsync(call.Id, new SignalMessage { Type = "answer", Payload = "v=0 teacher" });
        var fromStudent = await atTeacher.WaitAsync(Within);
        var fromTeacher = await atStudent.WaitAsync(Within);
        Assert.Equal(("s", "v=0 student"), (fromStudent.From, fromStudent.Signal.Payload));
        Assert.Equal(("t", "v=0 teacher"), (fromTeacher.From, fromTeacher.Signal.Payload));

        // Media confirmed on each node: the call connects for both, and the platform's timer reaches both.
        var timers = new[] { student, teacher }.Select(p => Next<CallTimerEvent>(h => p.Client.CallTimer += h, t => t.CallId == call.Id)).ToList();
        await Task.WhenAll(student.Connected, teacher.Connected).WaitAsync(TimeSpan.FromSeconds(15));
        await Task.WhenAll(timers).WaitAsync(Within);

        // The classroom: media state, chat and whiteboard, each from one node to the other.
        var muted = Next<MediaStateChangedEvent>(h => teacher.Client.MediaStateChanged += h, e => e.UserId == "s");
        await student.Client.UpdateMediaStateAsync(call.Id, new MediaState { Microphone = false, Camera = true, ScreenShare = false });
        Assert.False((await muted.WaitAsync(Within)).State.Microphone);
        var chat = Next<ChatMessage>(h => student.Client.ChatMessageReceived += h);
        await teacher.Client.SendChatMessageAsync(call.Id, "Hello from node B");
        var message = await chat.WaitAsync(Within);
        Assert.Equal(("t", "Hello from node B"), (message.SenderId, message.Text));
        var stroke = Next<WhiteboardOperation>(h => teacher.Client.WhiteboardOperationReceived += h);
        await student.Client.SendWhiteboardOperationAsync(call.Id, new WhiteboardOperationInput
        {
            Kind = "stroke",
            Data = JsonDocument.Parse("""{"points":[[0.1,0.1],[0.2,0.2]],"color":"#000","width":2}""").RootElement,
        });
        var operation = await stroke.WaitAsync(Within);
        Assert.Equal(("s", "stroke"), (operation.AuthorId, operation.Kind));
        var shared = Next<CallFile>(h => student.Client.FileShared += h);
        using (var pdf = new MemoryStream(ClassroomKit.Pdf()))
        {
            await nodeB.SdkAs(tenant, "t", CallernRoles.Teacher).UploadCallFileAsync(call.Id, new FileParameter(pdf, "lesson.pdf", "application/pdf"));
        }
        var file = await shared.WaitAsync(Within);
        Assert.Equal(("t", "lesson.pdf"), (file.UploaderId, file.FileName));

        // Ended by the teacher on node B: the student on node A hears it, with the charge.
        await Task.Delay(TimeSpan.FromSeconds(12));
        await teacher.Client.EndCallAsync(call.Id);
        var ended = await student.Ended.WaitAsync(Within);
        Assert.Equal((call.Id, "completed"), (ended.CallId, ended.Reason));
        var read = await _lab.EndedAsync(new FaultCall(tenant, call.Id, student, teacher), Within);
        await _lab.AssertHonestBillingAsync("two nodes, parties on different nodes", new FaultCall(tenant, call.Id, student, teacher), read);
        Assert.Equal(read.BilledSeconds, ended.BilledSeconds);
    }

    /// <summary>The next event a client raises that <paramref name="matches"/>, subscribed before the action that causes it.</summary>
    private static Task<T> Next<T>(Action<Func<T, Task>> subscribe, Func<T, bool>? matches = null)
    {
        var next = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        subscribe(e =>
        {
            if (matches is null || matches(e))
            {
                next.TrySetResult(e);
            }
            return Task.CompletedTask;
        });
        return next.Task;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();
}
