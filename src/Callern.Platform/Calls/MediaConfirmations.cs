using System.Collections.Concurrent;
using Callern.Platform.Infrastructure;

namespace Callern.Platform.Calls;

/// <summary>
/// This node's memory of the media confirmations it receives: one stream per participant of a call
/// (the confirmations arrive on the node holding that participant's hub connection). A confirmation
/// costs no database round trip; the database hears of a stream only when its run starts or lapses
/// (<see cref="TakeTransitions"/>) and, for the stamps, about once per heartbeat for each party
/// (<see cref="TakeStamps"/>), at a phase of its own: the writes spread over the heartbeat instead of
/// all landing in one statement that stalls the node's other work.
/// </summary>
public sealed class MediaConfirmations(TimeProvider time)
{
    /// <summary>Longer than the longest reconnect grace a school may set.</summary>
    private static readonly TimeSpan ForgetAfter = TimeSpan.FromMinutes(10);

    private readonly ConcurrentDictionary<(Guid CallId, string UserId), Stream> _streams = new();
    private readonly ConcurrentDictionary<Guid, bool> _billing = new();

    private sealed class Stream(Guid tenantId, bool isStudent)
    {
        public Guid TenantId { get; } = tenantId;
        public bool IsStudent { get; } = isStudent;
        public long LastBytes;
        public DateTimeOffset? LastReceivedAt;
        public DateTimeOffset? FlowingSince;
        public DateTimeOffset? ConfirmedAt;
        public DateTimeOffset? ConfirmedBeforeRun;
        /// <summary>A run started or lapsed and the database has not been told yet.</summary>
        public bool TransitionPending;
        /// <summary>Since when ConfirmedAt has moved without being written; null when written.</summary>
        public DateTimeOffset? StampPendingSince;
    }

    /// <summary>What a confirmation did to its party's stream.</summary>
    public readonly record struct Outcome(bool MediaFlowing, bool Transition);

    /// <summary>
    /// Records a confirmation of media seen at <paramref name="seenAt"/> and received now. Media counts as flowing when the inbound bytes grew since
    /// the party's previous confirmation (a smaller count is a new peer connection, counted from zero,
    /// and starts a new run: the moments between the two connections are not billed).
    /// </summary>
    public Outcome Record(Guid tenantId, Guid callId, string userId, bool isStudent, long inboundBytes, DateTimeOffset seenAt, DateTimeOffset now)
    {
        var stream = _streams.GetOrAdd((callId, userId), _ => new Stream(tenantId, isStudent));
        lock (stream)
        {
            if (stream.LastReceivedAt is { } last && now - last < MediaConfirmationRules.MinSpacing)
            {
                throw new CallRuleException("confirmation_too_fast",
                    $"Media is confirmed every {MediaConfirmationRules.Interval.TotalSeconds:0} s; this one came too soon after the last.",
                    StatusCodes.Status429TooManyRequests);
            }
            // Fewer bytes than before: a new peer connection (a reload, a rejoin), whose media began
            // after the old one's stopped, so its run is a new one even if it came back quickly.
            var newConnection = inboundBytes < stream.LastBytes;
            var grew = inboundBytes > (newConnection ? 0 : stream.LastBytes);
            stream.LastBytes = inboundBytes;
            stream.LastReceivedAt = now;
            var transition = false;
            if (grew)
            {
                if (!IsRunning(stream, now) || newConnection)
                {
                    stream.ConfirmedBeforeRun = stream.ConfirmedAt;
                    stream.FlowingSince = seenAt;
                    transition = true;
                }
                stream.ConfirmedAt = Latest(stream.ConfirmedAt, seenAt);
                stream.StampPendingSince ??= now;
            }
            else if (stream.FlowingSince is not null)
            {
                stream.FlowingSince = null;
                transition = true;
            }
            stream.TransitionPending |= transition;
            return new Outcome(grew, transition);
        }
    }

    /// <summary>The party's media as this node knows it, or null when its confirmations do not arrive here.</summary>
    public PartyMedia? Find(Guid callId, string userId)
    {
        if (!_streams.TryGetValue((callId, userId), out var stream))
        {
            return null;
        }
        lock (stream)
        {
            return new PartyMedia(stream.FlowingSince, stream.ConfirmedAt, stream.ConfirmedBeforeRun, Live: true);
        }
    }

    /// <summary>
    /// The party's media as the platform knows it: this node's memory where the party's confirmations
    /// arrive here (the database's stamp may be older), else the database's record of it.
    /// </summary>
    internal PartyMedia Merge(CallRecord call, bool student)
    {
        var (since, confirmed) = student
            ? (call.StudentFlowingSince?.AsUtc(), call.StudentConfirmedAt?.AsUtc())
            : (call.TeacherFlowingSince?.AsUtc(), call.TeacherConfirmedAt?.AsUtc());
        var userId = student ? call.StudentId : call.TeacherId;
        if (userId is null || Find(call.Id, userId) is not { } memory)
        {
            return new PartyMedia(since, confirmed, null, Live: false);
        }
        if (confirmed > LastReceivedAt(call.Id, userId))
        {
            // Another node heard from the party since its confirmations stopped arriving here (a
            // reload or a reconnect that the balancer sent there): this node's memory of the party
            // is stale, and must not write its lapse over the run the other node started.
            _streams.TryRemove((call.Id, userId), out _);
            return new PartyMedia(since, confirmed, null, Live: false);
        }
        // A run this process saw begin, with no confirmation before it in memory (the first since a
        // restart): what came before is what the database last heard.
        var beforeRun = memory.ConfirmedBeforeRun ?? (confirmed < memory.FlowingSince ? confirmed : null);
        return memory with { ConfirmedAt = Latest(memory.ConfirmedAt, confirmed), ConfirmedBeforeRun = beforeRun };
    }

    private DateTimeOffset? LastReceivedAt(Guid callId, string userId)
    {
        if (!_streams.TryGetValue((callId, userId), out var stream))
        {
            return null;
        }
        lock (stream)
        {
            return stream.LastReceivedAt;
        }
    }

    /// <summary>Whether the call was billing when this node last evaluated it.</summary>
    public bool IsBilling(Guid callId) => _billing.TryGetValue(callId, out var billing) && billing;

    internal void SetBilling(Guid callId, bool billing) => _billing[callId] = billing;

    /// <summary>
    /// Ends the runs whose confirmations stopped (a silent socket, a closed tab, a dead peer
    /// connection), and drops streams silent for longer than any call's grace (their call ended elsewhere).
    /// </summary>
    public void MarkLapses()
    {
        var now = time.GetUtcNow();
        foreach (var (key, stream) in _streams)
        {
            lock (stream)
            {
                if (stream.FlowingSince is not null && !IsRunning(stream, now))
                {
                    stream.FlowingSince = null;
                    stream.TransitionPending = true;
                }
                if (!stream.TransitionPending && stream.StampPendingSince is null && now - stream.LastReceivedAt > ForgetAfter)
                {
                    _streams.TryRemove(key, out _);
                    _billing.TryRemove(key.CallId, out _);
                }
            }
        }
    }

    /// <summary>The calls with a run that started or lapsed and is not yet in the database; each is taken once.</summary>
    public IReadOnlyList<(Guid TenantId, Guid CallId)> TakeTransitions() =>
        Take(s => s.TransitionPending, s => s.TransitionPending = false).Select(t => (t.TenantId, t.CallId)).Distinct().ToList();

    /// <summary>A transition the database did not take (it was away): taken again by the next <see cref="TakeTransitions"/>.</summary>
    public void Retry(Guid callId)
    {
        foreach (var ((id, _), stream) in _streams)
        {
            if (id == callId)
            {
                lock (stream)
                {
                    stream.TransitionPending = true;
                }
            }
        }
    }

    /// <summary>
    /// The latest confirmations left unwritten since <paramref name="pendingSince"/> or earlier, each
    /// taken once (<see cref="RetryStamps"/> them if the write failed).
    /// </summary>
    public IReadOnlyList<(Guid CallId, bool IsStudent, DateTimeOffset ConfirmedAt)> TakeStamps(DateTimeOffset pendingSince) =>
        Take(s => s.StampPendingSince <= pendingSince, s => s.StampPendingSince = null)
            .Select(t => (t.CallId, t.IsStudent, t.ConfirmedAt!.Value)).ToList();

    public void RetryStamps(IEnumerable<Guid> callIds)
    {
        var ids = callIds.ToHashSet();
        foreach (var ((id, _), stream) in _streams)
        {
            if (ids.Contains(id))
            {
                lock (stream)
                {
                    // Due at the next flush.
                    stream.StampPendingSince = stream.ConfirmedAt is null ? null : DateTimeOffset.MinValue;
                }
            }
        }
    }

    /// <summary>The call ended: its streams are of no further use.</summary>
    public void Forget(Guid callId)
    {
        foreach (var key in _streams.Keys.Where(k => k.CallId == callId))
        {
            _streams.TryRemove(key, out _);
        }
        _billing.TryRemove(callId, out _);
    }

    private List<(Guid TenantId, Guid CallId, bool IsStudent, DateTimeOffset? ConfirmedAt)> Take(Func<Stream, bool> pending, Action<Stream> clear)
    {
        var taken = new List<(Guid, Guid, bool, DateTimeOffset?)>();
        foreach (var ((callId, _), stream) in _streams)
        {
            lock (stream)
            {
                if (pending(stream))
                {
                    clear(stream);
                    taken.Add((stream.TenantId, callId, stream.IsStudent, stream.ConfirmedAt));
                }
            }
        }
        return taken;
    }

    private static DateTimeOffset? Latest(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null || a > b ? a : b;

    private static bool IsRunning(Stream stream, DateTimeOffset now) =>
        stream.FlowingSince is not null && stream.ConfirmedAt is { } at && now - at <= MediaConfirmationRules.LapseAfter;
}
