using System.Net.Http.Json;
using System.Text.Json;
using Callern.Platform.Calls;
using Callern.Platform.Classroom;
using Callern.Platform.Infrastructure;
using Callern.Platform.Tests.Calls;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Microsoft.AspNetCore.SignalR;
using static Callern.Platform.Tests.Classroom.ClassroomKit;
using Call = Callern.Platform.Calls.Call;
using CallRequest = Callern.Platform.Calls.CallRequest;
using CallStatsSample = Callern.Platform.Calls.CallStatsSample;
using CallTimerEvent = Callern.Platform.Calls.CallTimerEvent;
using ChatMessage = Callern.Platform.Calls.ChatMessage;
using MediaState = Callern.Platform.Classroom.MediaState;
using MediaStateChangedEvent = Callern.Platform.Classroom.MediaStateChangedEvent;
using RoomState = Callern.Platform.Classroom.RoomState;
using Whiteboard = Callern.Platform.Calls.Whiteboard;
using WhiteboardOperation = Callern.Platform.Calls.WhiteboardOperation;

namespace Callern.Platform.Tests.Classroom;

/// <summary>Media state, chat and whiteboard between two connected parties, over the real hub.</summary>
public sealed class RoomTests(CallernApp app) : IClassFixture<CallernApp>
{
    [Fact]
    public async Task Media_state_reaches_both_sides_and_a_reconnecting_peer_reads_it_back()
    {
        await using var pair = await app.PairAsync(600);
        var (_, student, teacher) = pair;
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);

        var answer = await student.InvokeAsync<MediaStateChangedEvent>("UpdateMediaState", callId, new MediaState(true, false, true, "screen-track-1"));
        var atTeacher = await teacher.NextAsync<MediaStateChangedEvent>("MediaStateChanged");
        var atStudent = await student.NextAsync<MediaStateChangedEvent>("MediaStateChanged");
        // Without a screen share a track id would point at a video that is no screen: it is dropped.
        await teacher.InvokeAsync<MediaStateChangedEvent>("UpdateMediaState", callId, new MediaState(false, true, false, "stale"));
        await teacher.LeaveAsync();
        await teacher.ReturnAsync();
        var room = await teacher.InvokeAsync<RoomState>("GetRoomState", callId, 0L, 0L);

        Assert.Equal(new MediaState(true, false, true, "screen-track-1"), answer.State);
        Assert.Equal(("s", answer.State), (atTeacher.UserId, atTeacher.State));
        Assert.Equal(atTeacher, atStudent);
        Assert.Equal(
            [new MediaStateChangedEvent(callId, "s", new MediaState(true, false, true, "screen-track-1")), new MediaStateChangedEvent(callId, "t", new MediaState(false, true, false, null))],
            room.MediaStates);
    }

    [Fact]
    public async Task Stats_are_taken_from_participants_and_nonsense_is_refused()
    {
        await using var pair = await app.PairAsync(600);
        var (_, student, teacher) = pair;
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);
        var sample = new CallStatsSample(42.5, 0.01, null, 3.2, 1_200_000, 900_000, 1_000_000, 800_000, "host", "relay");

        await student.InvokeAsync("ReportStats", callId, sample);
        await teacher.InvokeAsync("ReportStats", callId, sample);
        var negative = await Assert.ThrowsAsync<HubException>(() => student.InvokeAsync("ReportStats", callId, sample with { BitrateInBps = -1 }));
        var otherCall = await Assert.ThrowsAsync<HubException>(() => student.InvokeAsync("ReportStats", Guid.NewGuid(), sample));

        Assert.Contains("invalid_argument", negative.Message);
        Assert.Contains("call_not_found", otherCall.Message);
    }

    [Fact]
    public async Task Chat_reaches_both_sides_in_seq_order_and_becomes_the_transcript()
    {
        await using var pair = await app.PairAsync(600);
        var (tenant, student, teacher) = pair;
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);

        var first = await student.InvokeAsync<ChatMessage>("SendChatMessage", callId, "  Hello!  ");
        var second = await teacher.InvokeAsync<ChatMessage>("SendChatMessage", callId, "Hi, ready for B1?");
        var third = await student.InvokeAsync<ChatMessage>("SendChatMessage", callId, new string('x', ClassroomService.MaxChatChars));
        var tooLong = await Assert.ThrowsAsync<HubException>(() => student.InvokeAsync<ChatMessage>("SendChatMessage", callId, new string('x', ClassroomService.MaxChatChars + 1)));
        var blank = await Assert.ThrowsAsync<HubException>(() => student.InvokeAsync<ChatMessage>("SendChatMessage", callId, " \n "));
        var atTeacher = new[] { await teacher.NextAsync<ChatMessage>("ChatMessageReceived"), await teacher.NextAsync<ChatMessage>("ChatMessageReceived"), await teacher.NextAsync<ChatMessage>("ChatMessageReceived") };
        var atStudent = new[] { await student.NextAsync<ChatMessage>("ChatMessageReceived"), await student.NextAsync<ChatMessage>("ChatMessageReceived"), await student.NextAsync<ChatMessage>("ChatMessageReceived") };
        var page = await app.As(tenant, "t", CallernRoles.Teacher).GetFromJsonAsync<Page<ChatMessage>>($"/v1/calls/{callId}/messages?after=1&limit=1", Json);
        await student.InvokeAsync<Call>("EndCall", callId);
        var summary = await app.SdkAs(tenant, "s", CallernRoles.Student).GetCallAsync(callId);

        Assert.Equal((1L, "s", "Hello!"), (first.Seq, first.SenderId, first.Text));
        Assert.Equal((2L, "t"), (second.Seq, second.SenderId));
        Assert.Equal(3L, third.Seq);
        Assert.Equal([first, second, third], atTeacher);
        Assert.Equal([first, second, third], atStudent);
        Assert.Contains("invalid_argument", tooLong.Message);
        Assert.Contains("invalid_argument", blank.Message);
        Assert.Equal([second], page!.Items);
        Assert.Equal("2", page.NextCursor);
        Assert.Equal(["Hello!", "Hi, ready for B1?", third.Text], summary.Transcript!.Select(m => m.Text));
        Assert.Equal([1L, 2L, 3L], summary.Transcript!.Select(m => m.Seq));
    }

    [Fact]
    public async Task A_peer_that_was_away_catches_up_on_chat_and_whiteboard_in_order_exactly_once()
    {
        await using var pair = await app.PairAsync(600);
        var (_, student, teacher) = pair;
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);
        await student.InvokeAsync<ChatMessage>("SendChatMessage", callId, "before");
        await student.InvokeAsync<WhiteboardOperation>("SendWhiteboardOperation", callId, Operation("stroke", """{"points":[[0.1,0.1],[0.2,0.2]],"color":"#000","width":2}"""));
        var seenChat = (await teacher.NextAsync<ChatMessage>("ChatMessageReceived")).Seq;
        var seenBoard = (await teacher.NextAsync<WhiteboardOperation>("WhiteboardOperationReceived")).Seq;

        await teacher.LeaveAsync();
        var missedChat = new[]
        {
            await student.InvokeAsync<ChatMessage>("SendChatMessage", callId, "are you there?"),
            await student.InvokeAsync<ChatMessage>("SendChatMessage", callId, "I drew a box"),
        };
        var missedBoard = new[]
        {
            await student.InvokeAsync<WhiteboardOperation>("SendWhiteboardOperation", callId, Operation("shape", """{"shape":"rect","from":[0.1,0.1],"to":[0.4,0.3],"color":"#f00","width":1}""")),
            await student.InvokeAsync<WhiteboardOperation>("SendWhiteboardOperation", callId, Operation("text", """{"at":[0.5,0.5],"text":"box","color":"#00f","size":14}""")),
        };
        await teacher.ReturnAsync();
        var caughtUp = await teacher.InvokeAsync<RoomState>("GetRoomState", callId, seenChat, seenBoard);
        var afterReturn = await student.InvokeAsync<ChatMessage>("SendChatMessage", callId, "welcome back");
        var live = await teacher.NextAsync<ChatMessage>("ChatMessageReceived");

        Assert.Equal(missedChat, caughtUp.Messages);
        Assert.Equal(missedBoard.Select(o => (o.Seq, o.Kind, o.Data.GetRawText())), caughtUp.WhiteboardOperations.Select(o => (o.Seq, o.Kind, o.Data.GetRawText())));
        // What was missed comes through the catch-up only, not also as late events; what follows comes live, once.
        Assert.Equal(afterReturn, live);
        Assert.False(teacher.Has("ChatMessageReceived"));
        Assert.False(teacher.Has("WhiteboardOperationReceived"));
    }

    [Fact]
    public async Task The_whiteboard_applies_undo_erase_and_clear_and_rejects_bad_operations()
    {
        await using var pair = await app.PairAsync(600);
        var (tenant, student, teacher) = pair;
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);
        Task<WhiteboardOperation> Draw(CallParty party, string kind, string json) =>
            party.InvokeAsync<WhiteboardOperation>("SendWhiteboardOperation", callId, Operation(kind, json));

        var stroke = await Draw(student, "stroke", """{"points":[[0,0],[1,1]],"color":"#000","width":2}""");
        var box = await Draw(teacher, "shape", """{"shape":"rect","from":[0.1,0.1],"to":[0.2,0.2],"color":"#f00","width":1}""");
        var label = await Draw(student, "text", """{"at":[0.3,0.3],"text":"cat","color":"#000","size":12}""");
        await Draw(student, "undo", "{}");
        var gone = await Draw(teacher, "stroke", """{"points":[[0.5,0.5]],"color":"#0f0","width":3}""");
        await Draw(teacher, "erase", $$"""{"seqs":[{{gone.Seq}}]}""");
        var boardBeforeClear = await app.SdkAs(tenant, "s", CallernRoles.Student).GetCallWhiteboardAsync(callId);
        await Draw(student, "clear", "{}");
        var after = await Draw(teacher, "text", """{"at":[0.1,0.9],"text":"fresh","color":"#000","size":12}""");
        var board = (await app.As(tenant, "t", CallernRoles.Teacher).GetFromJsonAsync<Whiteboard>($"/v1/calls/{callId}/whiteboard", Json))!;
        var unknown = await Assert.ThrowsAsync<HubException>(() => Draw(student, "laser", "{}"));
        var notObject = await Assert.ThrowsAsync<HubException>(() => Draw(student, "stroke", "[1,2]"));
        var huge = await Assert.ThrowsAsync<HubException>(() => Draw(student, "stroke", $$"""{"points":[],"note":"{{new string('x', ClassroomService.MaxWhiteboardDataBytes)}}"}"""));
        var badErase = await Assert.ThrowsAsync<HubException>(() => Draw(student, "erase", """{"seqs":["one"]}"""));
        var summary = await app.SdkAs(tenant, "admin-1", CallernRoles.Admin).GetCallAsync(callId);

        Assert.Equal([stroke.Seq, box.Seq], boardBeforeClear.Operations.Select(o => o.Seq));
        Assert.Equal(after.Seq, board.Seq);
        Assert.Equal([(after.Seq, "teacher wrote fresh")], board.Operations.Select(o => (o.Seq, $"{(o.AuthorId == "t" ? "teacher" : "student")} wrote {o.Data.GetProperty("text").GetString()}")));
        Assert.NotEqual(label.Seq, boardBeforeClear.Operations[^1].Seq);
        Assert.All(new[] { unknown, notObject, huge, badErase }, e => Assert.Contains("invalid_argument", e.Message));
        Assert.Equal(board.Seq, summary.Whiteboard!.Seq);
    }

    [Fact]
    public async Task Chat_and_whiteboard_floods_are_refused_per_call_and_seqs_stay_gap_free()
    {
        await using var pair = await app.PairAsync(600);
        var (tenant, student, teacher) = pair;
        await app.UseClassroomSettingsAsync(tenant, c => (c.ChatMessagesPerMinute, c.WhiteboardOperationsPerMinute) = (3, 2));
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);

        for (var i = 0; i < 3; i++)
        {
            await (i % 2 == 0 ? student : teacher).InvokeAsync<ChatMessage>("SendChatMessage", callId, $"m{i}");
        }
        var chatFlood = await Assert.ThrowsAsync<HubException>(() => teacher.InvokeAsync<ChatMessage>("SendChatMessage", callId, "one too many"));
        await student.InvokeAsync<WhiteboardOperation>("SendWhiteboardOperation", callId, Operation("clear", "{}"));
        await teacher.InvokeAsync<WhiteboardOperation>("SendWhiteboardOperation", callId, Operation("clear", "{}"));
        var boardFlood = await Assert.ThrowsAsync<HubException>(() => student.InvokeAsync<WhiteboardOperation>("SendWhiteboardOperation", callId, Operation("clear", "{}")));
        await app.AdvanceAsync(TimeSpan.FromSeconds(61));
        var next = await teacher.InvokeAsync<ChatMessage>("SendChatMessage", callId, "after a pause");
        var messages = await app.SdkAs(tenant, "s", CallernRoles.Student).ListCallMessagesAsync(callId);

        Assert.Contains("call_rate_limited", chatFlood.Message);
        Assert.Contains("call_rate_limited", boardFlood.Message);
        Assert.Equal(4L, next.Seq);
        Assert.Equal(["m0", "m1", "m2", "after a pause"], messages.Items.Select(m => m.Text));
    }

    [Fact]
    public async Task One_call_never_reaches_into_another()
    {
        await using var pair = await app.PairAsync(600);
        var (tenant, student, teacher) = pair;
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);
        await app.StudentWithSecondsAsync(tenant, "s2", 600);
        await using var teacher2 = await app.AvailableTeacherAsync(tenant, "t2");
        await using var student2 = await CallParty.JoinAsync(app, tenant, "s2", CallernRoles.Student);
        var otherCall = await CallTestKit.ConnectedCallAsync(student2, teacher2);
        await student2.InvokeAsync<ChatMessage>("SendChatMessage", otherCall, "private");

        var intoOther = await Assert.ThrowsAsync<HubException>(() => student.InvokeAsync<ChatMessage>("SendChatMessage", otherCall, "hello?"));
        var drawOther = await Assert.ThrowsAsync<HubException>(() => teacher.InvokeAsync<WhiteboardOperation>("SendWhiteboardOperation", otherCall, Operation("clear", "{}")));
        var readOther = await Assert.ThrowsAsync<HubException>(() => student.InvokeAsync<RoomState>("GetRoomState", otherCall, 0L, 0L));
        var restOther = await app.As(tenant, "s", CallernRoles.Student).GetAsync($"/v1/calls/{otherCall}/messages");
        var mine = await student.InvokeAsync<ChatMessage>("SendChatMessage", callId, "mine");

        Assert.All(new[] { intoOther, drawOther, readOther }, e => Assert.Contains("call_not_found", e.Message));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, restOther.StatusCode);
        Assert.Equal(1L, mine.Seq);
        Assert.Equal("mine", (await teacher.NextAsync<ChatMessage>("ChatMessageReceived")).Text);
        Assert.Equal("private", (await teacher2.NextAsync<ChatMessage>("ChatMessageReceived")).Text);
        Assert.False(teacher2.Has("ChatMessageReceived"));
        Assert.False(teacher.Has("ChatMessageReceived"));
    }

    [Fact]
    public async Task Teachers_see_elapsed_time_but_the_students_balance_only_where_the_school_shows_it()
    {
        await using var pair = await app.PairAsync(600);
        var (tenant, student, teacher) = pair;
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);
        var tickInterval = TimeSpan.FromSeconds(30);
        await app.AdvanceAsync(tickInterval + TimeSpan.FromSeconds(5));
        // The tick due at connect may fire before any second is billed; the later ones show time.
        CallTimerEvent hidden;
        do
        {
            hidden = await teacher.NextAsync<CallTimerEvent>("CallTimer");
        }
        while (hidden.ElapsedSeconds == 0);
        var studentSees = await student.NextAsync<CallTimerEvent>("CallTimer");
        await app.UseSettingsAsync(tenant, c => c.ShowBalanceToTeacher = true);
        await app.AdvanceAsync(tickInterval + TimeSpan.FromSeconds(5));
        CallTimerEvent shown;
        do
        {
            shown = await teacher.NextAsync<CallTimerEvent>("CallTimer");
        }
        while (shown.RemainingSeconds is null);

        Assert.Equal(callId, hidden.CallId);
        Assert.True(hidden.ElapsedSeconds > 0);
        Assert.Null(hidden.RemainingSeconds);
        Assert.NotNull(studentSees.RemainingSeconds);
        Assert.True(shown.RemainingSeconds < 600);
    }

    [Fact]
    public async Task Nobody_outside_a_live_call_writes_to_its_room()
    {
        await using var pair = await app.PairAsync(600);
        var (tenant, student, teacher) = pair;
        var call = await student.InvokeAsync<Call>("RequestCall", new CallRequest("en", "B1", null, null, null));
        var ringing = await Assert.ThrowsAsync<HubException>(() => student.InvokeAsync<ChatMessage>("SendChatMessage", call.Id, "too early"));
        await using var admin = await CallParty.JoinAsync(app, tenant, "admin-1", CallernRoles.Admin);
        var byAdmin = await Assert.ThrowsAsync<HubException>(() => admin.InvokeAsync<ChatMessage>("SendChatMessage", call.Id, "not mine"));

        Assert.Contains("invalid_state", ringing.Message);
        Assert.Contains("call_not_found", byAdmin.Message);
        Assert.Empty((await app.SdkAs(tenant, "admin-1", CallernRoles.Admin).ListCallMessagesAsync(call.Id)).Items);
    }
}
