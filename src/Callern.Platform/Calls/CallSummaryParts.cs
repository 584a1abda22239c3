using System.Text.Json;

namespace Callern.Platform.Calls;

// The classroom's parts of a call's summary (GET /v1/calls/{id}). The classroom feature, above this
// one, keeps and serves them; the contracts live here, with the call they belong to.

/// <summary>A chat message; <paramref name="Seq"/> counts the call's messages from 1 without gaps.</summary>
public sealed record ChatMessage(Guid CallId, long Seq, string SenderId, string Text, DateTimeOffset SentAt);

/// <summary>A stored whiteboard operation; <paramref name="Seq"/> counts the call's operations from 1 without gaps.</summary>
public sealed record WhiteboardOperation(Guid CallId, long Seq, string AuthorId, string Kind, JsonElement Data, DateTimeOffset CreatedAt);

/// <summary>The current board: the drawing operations still visible after undo, erase and clear, up to <paramref name="Seq"/>.</summary>
public sealed record Whiteboard(Guid CallId, long Seq, IReadOnlyList<WhiteboardOperation> Operations);

/// <summary>A file shared in a call. The content type is the one its bytes were recognised as, not the one the uploader claimed.</summary>
public sealed record CallFile(Guid Id, Guid CallId, string UploaderId, string FileName, string ContentType, long SizeBytes, DateTimeOffset UploadedAt);

/// <summary>Fills a call's summary with the classroom's parts (transcript, files, whiteboard); the classroom feature supplies it.</summary>
public interface ICallSummaryParts
{
    Task<Call> WithPartsAsync(Call call, Guid tenantId);
}
