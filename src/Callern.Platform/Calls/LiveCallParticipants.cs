using System.Collections.Concurrent;
using Callern.Platform.Infrastructure;
using Callern.Platform.Tenancy;
using Npgsql;

namespace Callern.Platform.Calls;

/// <summary>
/// Who may signal whom: the two participants of each live (accepted or connected) call. The relay
/// asks for every signal, so each node keeps what it read. A view is used for <see cref="FreshFor"/>;
/// after that it is still used, for up to <see cref="TrustFor"/>, while it is read anew in the
/// background, so a call that keeps signalling never waits for the database; a tick of the call on
/// this node, which reads the call anyway, makes the view fresh again. With no view, or one older
/// than TrustFor, the signal waits for the read. A call that ends is forgotten at once on the node
/// that ended it and, through a notice (<see cref="Notices"/>), within milliseconds on the others; were
/// the notice lost, the background read sees the end (within FreshFor of steady signalling, TrustFor at worst).
/// </summary>
public sealed class LiveCallParticipants(NpgsqlDataSource db, Notices notices, TimeProvider time, ILogger<LiveCallParticipants> log)
    : INoticeHandler
{
    /// <summary>Longer than a tick's interval, so that a ticking call's view is never read for a signal or a confirmation.</summary>
    public static readonly TimeSpan FreshFor = CallRules.TickInterval + TimeSpan.FromSeconds(5);
    public static readonly TimeSpan TrustFor = FreshFor + TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<Guid, View> _calls = new();
    private long _sweptAt = time.GetTimestamp();

    // Compared by reference: a re-read replaces exactly the view it started from.
    private sealed class View(Guid tenantId, string studentId, string teacherId, long readAt)
    {
        public Guid TenantId { get; } = tenantId;
        public string StudentId { get; } = studentId;
        public string TeacherId { get; } = teacherId;
        public long ReadAt { get; } = readAt;
        public int Rereading;
    }

    /// <summary>The other participant of the caller's live call; not found, ended or wrong state otherwise.</summary>
    public async Task<string> PeerAsync(Caller caller, Guid callId)
    {
        var view = await ViewAsync(caller, callId);
        return caller.UserId == view.StudentId ? view.TeacherId : view.StudentId;
    }

    /// <summary>The student and the teacher of the caller's live call; not found, ended or wrong state otherwise.</summary>
    public async Task<(string StudentId, string TeacherId)> ParticipantsAsync(Caller caller, Guid callId)
    {
        var view = await ViewAsync(caller, callId);
        return (view.StudentId, view.TeacherId);
    }

    private async Task<View> ViewAsync(Caller caller, Guid callId)
    {
        if (!_calls.TryGetValue(callId, out var view) || view.TenantId != caller.TenantId || time.GetElapsedTime(view.ReadAt) > TrustFor)
        {
            view = await ReadAsync(caller, callId);
        }
        else if (time.GetElapsedTime(view.ReadAt) > FreshFor && Interlocked.Exchange(ref view.Rereading, 1) == 0)
        {
            _ = RereadAsync(callId, view);
        }
        return caller.UserId == view.StudentId || caller.UserId == view.TeacherId ? view : throw CallRuleException.NotFound();
    }

    /// <summary>A tick on this node just read the call live: a view it has is fresh again, without a read of its own.</summary>
    public void Confirm(Guid callId, Guid tenantId, string studentId, string teacherId)
    {
        if (_calls.TryGetValue(callId, out var view) && view.TenantId == tenantId)
        {
            _calls.TryUpdate(callId, new View(tenantId, studentId, teacherId, time.GetTimestamp()), view);
        }
    }

    /// <summary>The call ended on this node: no signal is relayed for it from now on, here or, once the notice arrives, on any node.</summary>
    public void Ended(Guid callId)
    {
        _calls.TryRemove(callId, out _);
        notices.Publish(Channel, callId.ToString());
    }

    public string Channel => "callern_calls_ended";

    /// <summary>A call ended on some node.</summary>
    public void Heard(string payload)
    {
        if (Guid.TryParse(payload, out var callId))
        {
            _calls.TryRemove(callId, out _);
        }
    }

    public void MayHaveMissed() => _calls.Clear();

    private async Task<View> ReadAsync(Caller caller, Guid callId)
    {
        var readAt = time.GetTimestamp();
        var row = await QueryAsync(caller.TenantId, callId);
        if (row is null || !row.IsParticipant(caller.UserId))
        {
            throw CallRuleException.NotFound();
        }
        if (row.State == CallState.Ended)
        {
            throw CallRuleException.CallEnded();
        }
        if (!row.IsLive)
        {
            throw CallRuleException.WrongState("Signals flow only in an accepted or connected call.");
        }
        var view = new View(caller.TenantId, row.StudentId, row.TeacherId!, readAt);
        _calls[callId] = view;
        SweepOld();
        return view;
    }

    // Replaces the view only if it is still the one that was read (an end on this node meanwhile wins).
    private async Task RereadAsync(Guid callId, View old)
    {
        try
        {
            var readAt = time.GetTimestamp();
            var row = await QueryAsync(old.TenantId, callId);
            if (row is { IsLive: true })
            {
                _calls.TryUpdate(callId, new View(old.TenantId, old.StudentId, old.TeacherId, readAt), old);
            }
            else
            {
                _calls.TryRemove(KeyValuePair.Create(callId, old));
            }
        }
        catch (Exception exception)
        {
            log.LogWarning(exception, "Could not re-read the participants of call {CallId}; the next signal tries again.", callId);
            Volatile.Write(ref old.Rereading, 0);
        }
    }

    private async Task<CallRecord?> QueryAsync(Guid tenantId, Guid callId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await CallStore.ParticipantsAsync(connection, tenantId, callId);
    }

    // Views older than TrustFor are never used again: drop them, at most once per TrustFor.
    private void SweepOld()
    {
        var sweptAt = Volatile.Read(ref _sweptAt);
        if (time.GetElapsedTime(sweptAt) < TrustFor || Interlocked.CompareExchange(ref _sweptAt, time.GetTimestamp(), sweptAt) != sweptAt)
        {
            return;
        }
        foreach (var (callId, view) in _calls)
        {
            if (time.GetElapsedTime(view.ReadAt) > TrustFor)
            {
                _calls.TryRemove(KeyValuePair.Create(callId, view));
            }
        }
    }
}
