using Callern.Platform.Infrastructure;

namespace Callern.Platform.Classroom;

/// <summary>A tenant's rules for the in-call classroom: file limits and retention, per-call flood limits.</summary>
public sealed record ClassroomSettings
{
    public const long MaxFileBytesCap = 100L * 1024 * 1024;

    /// <summary>The largest file a participant may upload.</summary>
    public long MaxFileBytes { get; init; } = 10L * 1024 * 1024;
    /// <summary>The file types (<see cref="FileTypes"/> names) a participant may upload, recognised by their bytes.</summary>
    public IReadOnlyList<string> AllowedFileTypes { get; init; } = FileTypes.DefaultAllowed;
    /// <summary>Shared files are deleted (bytes and listing) this long after upload.</summary>
    public int FileRetentionDays { get; init; } = 30;
    /// <summary>Chat messages one call (both participants together) may send per minute.</summary>
    public int ChatMessagesPerMinute { get; init; } = 60;
    /// <summary>Whiteboard operations one call may send per minute (a fast stroke is several).</summary>
    public int WhiteboardOperationsPerMinute { get; init; } = 600;

    public void Validate(FieldErrors errors, string prefix)
    {
        errors.Check(MaxFileBytes is >= 1024 and <= MaxFileBytesCap, prefix + "maxFileBytes", $"Between 1024 and {MaxFileBytesCap}.")
            .Check(AllowedFileTypes is not null && AllowedFileTypes.All(FileTypes.IsKnown) && AllowedFileTypes.Distinct().Count() == AllowedFileTypes.Count,
                prefix + "allowedFileTypes", $"Distinct names among: {string.Join(", ", FileTypes.All.Select(t => t.Name))}.")
            .Check(FileRetentionDays is >= 1 and <= 3650, prefix + "fileRetentionDays", "Between 1 and 3650.")
            .Check(ChatMessagesPerMinute is >= 1 and <= 600, prefix + "chatMessagesPerMinute", "Between 1 and 600.")
            .Check(WhiteboardOperationsPerMinute is >= 1 and <= 6000, prefix + "whiteboardOperationsPerMinute", "Between 1 and 6000.");
    }
}
