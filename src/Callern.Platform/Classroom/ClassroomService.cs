using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Callern.Platform.Calls;
using Callern.Platform.Infrastructure;
using Callern.Platform.Tenancy;
using Microsoft.AspNetCore.DataProtection;
using Npgsql;

namespace Callern.Platform.Classroom;

/// <summary>
/// Media state, chat, whiteboard and files of a live call. Writes go to the two participants of
/// an accepted or connected call (the call service says who they are); every event goes to every
/// connection of both, so the sender's other tabs stay in step.
/// </summary>
public sealed class ClassroomService(
    NpgsqlDataSource db, LiveCallParticipants participants, CallReads calls, SettingsStore settings, CallNotifier notify, IFileStorage storage,
    IDataProtectionProvider protection, StatsBuffer latestStats, TimeProvider time) : ICallSummaryParts
{
    public const int MaxChatChars = 2000;
    public const int MaxWhiteboardDataBytes = 16 * 1024;
    public const int MaxScreenTrackIdChars = 256;
    public static readonly TimeSpan FileLinkTtl = TimeSpan.FromMinutes(5);
    public static readonly IReadOnlyList<string> WhiteboardKinds = ["stroke", "shape", "text", "erase", "clear", "undo"];

    private readonly IDataProtector _links = protection.CreateProtector("Callern.Classroom.FileLink.v1");

    public async Task<MediaStateChangedEvent> UpdateMediaStateAsync(Caller caller, Guid callId, MediaState state)
    {
        if (state is null || state.ScreenTrackId?.Length > MaxScreenTrackIdChars)
        {
            throw CallRuleException.Invalid($"A media state has microphone, camera, screenShare and a screenTrackId of at most {MaxScreenTrackIdChars} characters.");
        }
        var peer = await participants.PeerAsync(caller, callId);
        // A track id without a screen share would point the peer at a video that is not a screen.
        var stored = state.ScreenShare ? state : state with { ScreenTrackId = null };
        await using (var connection = await db.OpenConnectionAsync())
        {
            await ClassroomStore.SaveMediaAsync(connection, caller.TenantId, callId, caller.UserId, stored, time.GetUtcNow());
        }
        var changed = new MediaStateChangedEvent(callId, caller.UserId, stored);
        await notify.Users(caller.TenantId, caller.UserId, peer).MediaStateChanged(changed);
        return changed;
    }

    /// <summary>A participant's stats sample on its own (apps with their own media stack); kept as <see cref="KeepStats"/> keeps it.</summary>
    public async Task ReportStatsAsync(Caller caller, Guid callId, CallStatsSample stats)
    {
        CheckStats(stats);
        await participants.PeerAsync(caller, callId);
        KeepStats(caller, callId, stats);
    }

    /// <summary>Refuses a sample with a negative or non-finite number, or an overlong candidate type.</summary>
    public static void CheckStats(CallStatsSample? stats)
    {
        if (stats is null || !StatsAreValid(stats))
        {
            throw CallRuleException.Invalid("Stats are finite, non-negative numbers; candidate types at most 32 characters.");
        }
    }

    /// <summary>Keeps a checked sample of a participant of the call as its latest; the node writes it within a heartbeat.</summary>
    public void KeepStats(Caller caller, Guid callId, CallStatsSample stats) =>
        latestStats.Keep(caller.TenantId, callId, caller.UserId, stats, time.GetUtcNow());

    public async Task<ChatMessage> SendChatAsync(Caller caller, Guid callId, string? text)
    {
        var trimmed = text?.Trim();
        if (string.IsNullOrEmpty(trimmed) || trimmed.Length > MaxChatChars)
        {
            throw CallRuleException.Invalid($"A chat message holds 1 to {MaxChatChars} characters.");
        }
        var peer = await participants.PeerAsync(caller, callId);
        var limit = (await settings.GetAsync(caller.TenantId)).Classroom!.ChatMessagesPerMinute;
        var now = time.GetUtcNow().ToDatabasePrecision();
        ChatMessage message;
        await using (var connection = await db.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            var seq = await ClassroomStore.NextChatSeqAsync(connection, transaction, caller.TenantId, callId, now, limit)
                ?? throw Flooded($"This call may send {limit} chat messages a minute.");
            message = new ChatMessage(callId, seq, caller.UserId, trimmed, now);
            await ClassroomStore.InsertMessageAsync(connection, transaction, caller.TenantId, message);
            await transaction.CommitAsync();
        }
        await notify.Users(caller.TenantId, caller.UserId, peer).ChatMessageReceived(message);
        return message;
    }

    public async Task<WhiteboardOperation> SendWhiteboardAsync(Caller caller, Guid callId, WhiteboardOperationInput? input)
    {
        var error = input is null ? "An operation has a kind and data." : WhiteboardError(input);
        if (error is not null)
        {
            throw CallRuleException.Invalid(error);
        }
        var peer = await participants.PeerAsync(caller, callId);
        var limit = (await settings.GetAsync(caller.TenantId)).Classroom!.WhiteboardOperationsPerMinute;
        var now = time.GetUtcNow().ToDatabasePrecision();
        WhiteboardOperation operation;
        await using (var connection = await db.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            var seq = await ClassroomStore.NextBoardSeqAsync(connection, transaction, caller.TenantId, callId, now, limit)
                ?? throw Flooded($"This call may send {limit} whiteboard operations a minute.");
            operation = new WhiteboardOperation(callId, seq, caller.UserId, input!.Kind, input.Data.Clone(), now);
            await ClassroomStore.InsertOperationAsync(connection, transaction, caller.TenantId, operation);
            await transaction.CommitAsync();
        }
        await notify.Users(caller.TenantId, caller.UserId, peer).WhiteboardOperationReceived(operation);
        return operation;
    }

    /// <summary>Refuses (call_not_found, invalid_state) anyone but a participant of an accepted or connected call.</summary>
    public Task CheckLiveParticipantAsync(Caller caller, Guid callId) => participants.PeerAsync(caller, callId);

    /// <summary>Catch-up for a participant (also after the call ended): what happened after the seqs they saw.</summary>
    public async Task<RoomState> GetRoomStateAsync(Caller caller, Guid callId, long afterChatSeq, long afterWhiteboardSeq)
    {
        if (await VisibleCallAsync(caller, callId, participantsOnly: true) is null)
        {
            throw CallRuleException.NotFound();
        }
        await using var connection = await db.OpenConnectionAsync();
        return new RoomState(callId,
            await ClassroomStore.MediaStatesAsync(connection, caller.TenantId, callId),
            await ClassroomStore.MessagesAsync(connection, caller.TenantId, callId, afterChatSeq, int.MaxValue),
            await ClassroomStore.OperationsAsync(connection, caller.TenantId, callId, afterWhiteboardSeq),
            await ClassroomStore.FilesAsync(connection, caller.TenantId, callId));
    }

    /// <summary>The call when the caller may read its classroom (a participant, or the tenant's admin or service), else null.</summary>
    public Task<Call?> VisibleCallAsync(Caller caller, Guid callId, bool participantsOnly = false) => calls.VisibleCallAsync(caller, callId, participantsOnly);

    public async Task<IReadOnlyList<ChatMessage>> MessagesAsync(Guid tenantId, Guid callId, long after, int limit)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await ClassroomStore.MessagesAsync(connection, tenantId, callId, after, limit);
    }

    public async Task<Whiteboard> WhiteboardAsync(Guid tenantId, Guid callId)
    {
        await using var connection = await db.OpenConnectionAsync();
        var operations = await ClassroomStore.OperationsAsync(connection, tenantId, callId, 0);
        return new Whiteboard(callId, operations.Count > 0 ? operations[^1].Seq : 0, Visible(operations));
    }

    public async Task<IReadOnlyList<CallFile>> FilesAsync(Guid tenantId, Guid callId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await ClassroomStore.FilesAsync(connection, tenantId, callId);
    }

    /// <summary>The call as <see cref="CallReads.GetAsync"/> gives it, with its transcript, files and whiteboard.</summary>
    public async Task<Call> WithPartsAsync(Call call, Guid tenantId) => call with
    {
        Transcript = await MessagesAsync(tenantId, call.Id, 0, int.MaxValue),
        Files = await FilesAsync(tenantId, call.Id),
        Whiteboard = await WhiteboardAsync(tenantId, call.Id),
    };

    /// <summary>
    /// Stores an uploaded file under a generated key, lists it and tells both participants. The
    /// call must still be live once the bytes are in; if anything fails, the bytes are removed.
    /// </summary>
    public async Task<CallFile> ShareFileAsync(Caller caller, Guid callId, string fileName, FileType type, Stream content, long maxBytes, CancellationToken cancellationToken)
    {
        var id = Guid.CreateVersion7(time.GetUtcNow());
        var key = id.ToString("N");
        var size = await storage.SaveAsync(key, content, maxBytes, cancellationToken);
        try
        {
            var peer = await participants.PeerAsync(caller, callId);
            var now = time.GetUtcNow().ToDatabasePrecision();
            var retention = (await settings.GetAsync(caller.TenantId)).Classroom!.FileRetentionDays;
            var file = new CallFile(id, callId, caller.UserId, fileName, type.ContentType, size, now);
            await using (var connection = await db.OpenConnectionAsync(cancellationToken))
            await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
            {
                await ClassroomStore.InsertFileAsync(connection, transaction, caller.TenantId, file, key);
                await Deadlines.ScheduleAsync(connection, transaction, ClassroomDeadlines.FileRetention, id, caller.TenantId, now.AddDays(retention));
                await transaction.CommitAsync(cancellationToken);
            }
            await notify.Users(caller.TenantId, caller.UserId, peer).FileShared(file);
            return file;
        }
        catch
        {
            storage.Delete(key);
            throw;
        }
    }

    public async Task<CallFile?> FindFileAsync(Guid tenantId, Guid callId, Guid fileId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await ClassroomStore.FindFileAsync(connection, tenantId, callId, fileId))?.ToFile();
    }

    /// <summary>A file's listing and bytes, or null when the call has no such file (or its bytes are gone).</summary>
    public async Task<(CallFile File, Stream Content)?> OpenFileAsync(Guid tenantId, Guid callId, Guid fileId)
    {
        await using var connection = await db.OpenConnectionAsync();
        var row = await ClassroomStore.FindFileAsync(connection, tenantId, callId, fileId);
        return row is not null && storage.OpenRead(row.StorageKey) is { } content ? (row.ToFile(), content) : null;
    }

    /// <summary>A token naming one file of one call of one tenant until it expires; authenticated encryption makes it unforgeable.</summary>
    public (string Token, DateTimeOffset ExpiresAt) CreateLinkToken(Guid tenantId, Guid callId, Guid fileId)
    {
        // The expiry is inside the protected payload and checked against the platform's clock
        // (ITimeLimitedDataProtector would check the machine clock, which tests cannot move).
        var expiresAt = DateTimeOffset.FromUnixTimeSeconds((time.GetUtcNow() + FileLinkTtl).ToUnixTimeSeconds());
        var payload = string.Join('|', tenantId.ToString("N"), callId.ToString("N"), fileId.ToString("N"),
            expiresAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        return (Base64Url.EncodeToString(_links.Protect(Encoding.UTF8.GetBytes(payload))), expiresAt);
    }

    /// <summary>What a link token names, or null when it is forged, tampered with or expired.</summary>
    public (Guid TenantId, Guid CallId, Guid FileId)? ReadLinkToken(string token)
    {
        try
        {
            var parts = Encoding.UTF8.GetString(_links.Unprotect(Base64Url.DecodeFromChars(token))).Split('|');
            return parts.Length == 4 && long.TryParse(parts[3], CultureInfo.InvariantCulture, out var expires)
                && time.GetUtcNow().ToUnixTimeSeconds() < expires
                ? (Guid.Parse(parts[0]), Guid.Parse(parts[1]), Guid.Parse(parts[2]))
                : null;
        }
        catch (Exception exception) when (exception is FormatException or System.Security.Cryptography.CryptographicException)
        {
            return null;
        }
    }

    /// <summary>Fires when a file's retention ends: the listing goes with the deadline, the bytes once that committed.</summary>
    internal async Task FileExpiredAsync(Deadline deadline, DeadlineContext context)
    {
        var key = await ClassroomStore.DeleteFileAsync(context.Connection, context.Transaction, deadline.SubjectId);
        if (key is not null)
        {
            context.AfterCommit(() =>
            {
                storage.Delete(key);
                return Task.CompletedTask;
            });
        }
    }

    /// <summary>
    /// The board as drawn: stroke, shape and text operations add; erase removes the listed seqs;
    /// clear removes everything before it; undo removes its author's latest still-visible drawing.
    /// </summary>
    public static IReadOnlyList<WhiteboardOperation> Visible(IEnumerable<WhiteboardOperation> operations)
    {
        var visible = new List<WhiteboardOperation>();
        foreach (var operation in operations)
        {
            switch (operation.Kind)
            {
                case "clear":
                    visible.Clear();
                    break;
                case "erase":
                    var erased = operation.Data.GetProperty("seqs").EnumerateArray().Select(s => s.GetInt64()).ToHashSet();
                    visible.RemoveAll(v => erased.Contains(v.Seq));
                    break;
                case "undo":
                    var last = visible.FindLastIndex(v => v.AuthorId == operation.AuthorId);
                    if (last >= 0)
                    {
                        visible.RemoveAt(last);
                    }
                    break;
                default:
                    visible.Add(operation);
                    break;
            }
        }
        return visible;
    }

    private static string? WhiteboardError(WhiteboardOperationInput input)
    {
        if (!WhiteboardKinds.Contains(input.Kind))
        {
            return $"kind is one of {string.Join(", ", WhiteboardKinds)}.";
        }
        if (input.Data.ValueKind != JsonValueKind.Object)
        {
            return "data is a JSON object.";
        }
        if (Encoding.UTF8.GetByteCount(input.Data.GetRawText()) > MaxWhiteboardDataBytes)
        {
            return $"data holds at most {MaxWhiteboardDataBytes} bytes of JSON.";
        }
        if (input.Kind == "erase" && !(input.Data.TryGetProperty("seqs", out var seqs) && seqs.ValueKind == JsonValueKind.Array
            && seqs.EnumerateArray().All(s => s.ValueKind == JsonValueKind.Number && s.TryGetInt64(out var seq) && seq > 0)))
        {
            return "An erase names the seqs it removes: {\"seqs\": [1, 2]}.";
        }
        return null;
    }

    private static bool StatsAreValid(CallStatsSample s) =>
        new[] { s.RttMs, s.PacketLossIn, s.PacketLossOut, s.JitterMs, s.BitrateInBps, s.BitrateOutBps }.All(v => v is null || (double.IsFinite(v.Value) && v >= 0))
        && s.BytesReceived >= 0 && s.BytesSent >= 0 && s.LocalCandidateType?.Length is null or <= 32 && s.RemoteCandidateType?.Length is null or <= 32;

    private static CallRuleException Flooded(string message) =>
        new("call_rate_limited", message + " Wait a little and send again.", StatusCodes.Status429TooManyRequests);
}
