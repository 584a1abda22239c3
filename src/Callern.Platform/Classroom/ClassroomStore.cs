using System.Text.Json;
using Callern.Platform.Calls;
using Callern.Platform.Infrastructure;
using Dapper;
using Npgsql;

namespace Callern.Platform.Classroom;

/// <summary>SQL of the classroom feature (0007_classroom.sql).</summary>
internal static class ClassroomStore
{
    public static readonly TimeSpan FloodWindow = TimeSpan.FromMinutes(1);
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>
    /// Takes the call's next chat seq, or null when the call already sent its limit in this window.
    /// The upsert locks the call's counter row until the transaction ends, so concurrent senders
    /// queue and their seqs follow without gaps (a rolled-back send rolls back its seq too).
    /// </summary>
    public static Task<long?> NextChatSeqAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid tenantId, Guid callId, DateTimeOffset now, int limit) =>
        connection.QuerySingleRowOrDefaultAsync<long?>(NextSeqSql("chat_seq", "chat_window"), Window(tenantId, callId, now, limit), transaction);

    /// <summary>As <see cref="NextChatSeqAsync"/>, for whiteboard operations.</summary>
    public static Task<long?> NextBoardSeqAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid tenantId, Guid callId, DateTimeOffset now, int limit) =>
        connection.QuerySingleRowOrDefaultAsync<long?>(NextSeqSql("whiteboard_seq", "board_window"), Window(tenantId, callId, now, limit), transaction);

    private static object Window(Guid tenantId, Guid callId, DateTimeOffset now, int limit) =>
        new { tenantId, callId, now, windowStart = now - FloodWindow, limit };

    // Column names are constants of this class, never input.
    private static string NextSeqSql(string seq, string window) =>
        $"""
        INSERT INTO call_rooms AS r (call_id, tenant_id, {seq}, {window}_at, {window}_count) VALUES (@callId, @tenantId, 1, @now, 1)
        ON CONFLICT (call_id) DO UPDATE SET
            {seq} = r.{seq} + 1,
            {window}_at = CASE WHEN r.{window}_at > @windowStart THEN r.{window}_at ELSE @now END,
            {window}_count = CASE WHEN r.{window}_at > @windowStart THEN r.{window}_count + 1 ELSE 1 END
        WHERE r.{window}_at IS NULL OR r.{window}_at <= @windowStart OR r.{window}_count < @limit
        RETURNING {seq}
        """;

    public static Task InsertMessageAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid tenantId, ChatMessage message) =>
        connection.ExecuteAsync(
            "INSERT INTO call_messages (call_id, seq, tenant_id, sender_id, text, sent_at) VALUES (@CallId, @Seq, @tenantId, @SenderId, @Text, @SentAt)",
            new { message.CallId, message.Seq, tenantId, message.SenderId, message.Text, message.SentAt }, transaction);

    public static Task InsertOperationAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid tenantId, WhiteboardOperation operation) =>
        connection.ExecuteAsync(
            """
            INSERT INTO call_whiteboard_ops (call_id, seq, tenant_id, author_id, kind, data, created_at)
            VALUES (@CallId, @Seq, @tenantId, @AuthorId, @Kind, @data::json, @CreatedAt)
            """,
            new { operation.CallId, operation.Seq, tenantId, operation.AuthorId, operation.Kind, data = operation.Data.GetRawText(), operation.CreatedAt }, transaction);

    public static async Task<IReadOnlyList<ChatMessage>> MessagesAsync(NpgsqlConnection connection, Guid tenantId, Guid callId, long after, int limit) =>
        (await connection.QueryRowsAsync<MessageRow>(
            """
            SELECT call_id, seq, sender_id, text, sent_at FROM call_messages
            WHERE call_id = @callId AND tenant_id = @tenantId AND seq > @after ORDER BY seq LIMIT @limit
            """,
            new { callId, tenantId, after, limit })).Select(r => new ChatMessage(r.CallId, r.Seq, r.SenderId, r.Text, r.SentAt.AsUtc())).ToList();

    public static async Task<IReadOnlyList<WhiteboardOperation>> OperationsAsync(NpgsqlConnection connection, Guid tenantId, Guid callId, long after) =>
        (await connection.QueryRowsAsync<OperationRow>(
            """
            SELECT call_id, seq, author_id, kind, data::text AS data, created_at FROM call_whiteboard_ops
            WHERE call_id = @callId AND tenant_id = @tenantId AND seq > @after ORDER BY seq
            """,
            new { callId, tenantId, after }))
        .Select(r => new WhiteboardOperation(r.CallId, r.Seq, r.AuthorId, r.Kind, JsonSerializer.Deserialize<JsonElement>(r.Data), r.CreatedAt.AsUtc())).ToList();

    public static Task SaveMediaAsync(NpgsqlConnection connection, Guid tenantId, Guid callId, string userId, MediaState state, DateTimeOffset now) =>
        connection.ExecuteAsync(
            """
            INSERT INTO call_participant_media (call_id, user_id, tenant_id, media, media_at) VALUES (@callId, @userId, @tenantId, @media::jsonb, @now)
            ON CONFLICT (call_id, user_id) DO UPDATE SET media = excluded.media, media_at = excluded.media_at
            """,
            new { callId, userId, tenantId, media = JsonSerializer.Serialize(state, Json), now });

    /// <summary>Each participant's latest sample, all in one statement (rows in key order, so two writers never deadlock).</summary>
    public static Task SaveStatsAsync(NpgsqlConnection connection, IReadOnlyList<StatsBuffer.PendingStats> samples)
    {
        var rows = samples.OrderBy(s => s.CallId).ThenBy(s => s.UserId, StringComparer.Ordinal).ToList();
        return connection.ExecuteAsync(
            """
            INSERT INTO call_participant_media (call_id, user_id, tenant_id, stats, stats_at, stats_count)
            SELECT c, u, t, s::jsonb, a, n FROM unnest(@callIds, @userIds, @tenantIds, @stats, @ats, @counts) AS r(c, u, t, s, a, n)
            ON CONFLICT (call_id, user_id) DO UPDATE
            SET stats = excluded.stats, stats_at = excluded.stats_at, stats_count = call_participant_media.stats_count + excluded.stats_count
            """,
            new
            {
                callIds = rows.Select(r => r.CallId).ToArray(),
                userIds = rows.Select(r => r.UserId).ToArray(),
                tenantIds = rows.Select(r => r.TenantId).ToArray(),
                stats = rows.Select(r => JsonSerializer.Serialize(r.Stats, Json)).ToArray(),
                ats = rows.Select(r => r.At).ToArray(),
                counts = rows.Select(r => r.Count).ToArray(),
            });
    }

    public static async Task<IReadOnlyList<MediaStateChangedEvent>> MediaStatesAsync(NpgsqlConnection connection, Guid tenantId, Guid callId) =>
        (await connection.QueryRowsAsync<(string UserId, string Media)>(
            "SELECT user_id, media::text FROM call_participant_media WHERE call_id = @callId AND tenant_id = @tenantId AND media IS NOT NULL ORDER BY user_id",
            new { callId, tenantId }))
        .Select(r => new MediaStateChangedEvent(callId, r.UserId, JsonSerializer.Deserialize<MediaState>(r.Media, Json)!)).ToList();

    public static Task InsertFileAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid tenantId, CallFile file, string storageKey) =>
        connection.ExecuteAsync(
            """
            INSERT INTO call_files (id, tenant_id, call_id, uploader_id, file_name, content_type, size_bytes, storage_key, uploaded_at)
            VALUES (@Id, @tenantId, @CallId, @UploaderId, @FileName, @ContentType, @SizeBytes, @storageKey, @UploadedAt)
            """,
            new { file.Id, tenantId, file.CallId, file.UploaderId, file.FileName, file.ContentType, file.SizeBytes, storageKey, file.UploadedAt }, transaction);

    private const string FileColumns = "id, call_id, uploader_id, file_name, content_type, size_bytes, storage_key, uploaded_at";

    public static async Task<IReadOnlyList<CallFile>> FilesAsync(NpgsqlConnection connection, Guid tenantId, Guid callId) =>
        (await connection.QueryRowsAsync<FileRow>(
            $"SELECT {FileColumns} FROM call_files WHERE call_id = @callId AND tenant_id = @tenantId ORDER BY seq",
            new { callId, tenantId })).Select(r => r.ToFile()).ToList();

    public static Task<FileRow?> FindFileAsync(NpgsqlConnection connection, Guid tenantId, Guid callId, Guid fileId) =>
        connection.QuerySingleRowOrDefaultAsync<FileRow>(
            $"SELECT {FileColumns} FROM call_files WHERE id = @fileId AND call_id = @callId AND tenant_id = @tenantId",
            new { fileId, callId, tenantId });

    /// <summary>Removes a file's row and returns its storage key (null when already gone).</summary>
    public static Task<string?> DeleteFileAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid fileId) =>
        connection.QuerySingleRowOrDefaultAsync<string>("DELETE FROM call_files WHERE id = @fileId RETURNING storage_key", new { fileId }, transaction);

    internal sealed class FileRow
    {
        public Guid Id { get; init; }
        public Guid CallId { get; init; }
        public string UploaderId { get; init; } = "";
        public string FileName { get; init; } = "";
        public string ContentType { get; init; } = "";
        public long SizeBytes { get; init; }
        public string StorageKey { get; init; } = "";
        public DateTime UploadedAt { get; init; }

        public CallFile ToFile() => new(Id, CallId, UploaderId, FileName, ContentType, SizeBytes, UploadedAt.AsUtc());
    }

    private sealed class MessageRow
    {
        public Guid CallId { get; init; }
        public long Seq { get; init; }
        public string SenderId { get; init; } = "";
        public string Text { get; init; } = "";
        public DateTime SentAt { get; init; }
    }

    private sealed class OperationRow
    {
        public Guid CallId { get; init; }
        public long Seq { get; init; }
        public string AuthorId { get; init; } = "";
        public string Kind { get; init; } = "";
        public string Data { get; init; } = "{}";
        public DateTime CreatedAt { get; init; }
    }
}
