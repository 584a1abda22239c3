using System.Buffers;
using System.Text.Unicode;

namespace Callern.Platform.Classroom;

/// <summary>Whether the first bytes of a file are of a type; <paramref name="complete"/> when they are the whole file.</summary>
public delegate bool FileSniffer(ReadOnlySpan<byte> head, bool complete);

/// <summary>A file type the classroom recognises by its bytes, and the names such a file may have.</summary>
public sealed record FileType(string Name, string ContentType, IReadOnlyList<string> Extensions, FileSniffer Matches);

/// <summary>
/// The types a shared file may be, told apart by their leading (magic) bytes; the file name must
/// also end in one of the type's extensions, so a PNG named .pdf or a program named .pdf is refused.
/// Plain text has no magic bytes: a .txt file is accepted when its first <see cref="SniffBytes"/>
/// bytes are UTF-8 without NUL or other control characters (tab, line and page breaks allowed); it
/// is served as an attachment with nosniff, so later bytes cannot make a browser run it.
/// A .docx is a ZIP container; its parts are not inspected.
/// </summary>
public static class FileTypes
{
    public const int SniffBytes = 8 * 1024;

    public static readonly IReadOnlyList<FileType> All =
    [
        new("pdf", "application/pdf", [".pdf"], (h, _) => h.StartsWith("%PDF-"u8)),
        new("png", "image/png", [".png"], (h, _) => h.StartsWith((ReadOnlySpan<byte>)[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])),
        new("jpeg", "image/jpeg", [".jpg", ".jpeg"], (h, _) => h.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF])),
        new("gif", "image/gif", [".gif"], (h, _) => h.StartsWith("GIF87a"u8) || h.StartsWith("GIF89a"u8)),
        new("webp", "image/webp", [".webp"], (h, _) => h.Length >= 12 && h.StartsWith("RIFF"u8) && h[8..12].SequenceEqual("WEBP"u8)),
        new("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", [".docx"],
            (h, _) => h.StartsWith("PK\u0003\u0004"u8)),
        new("txt", "text/plain; charset=utf-8", [".txt"], IsText),
    ];

    public static readonly IReadOnlyList<string> DefaultAllowed = ["pdf", "png", "jpeg", "gif", "webp", "docx", "txt"];

    public static bool IsKnown(string? name) => All.Any(t => t.Name == name);

    /// <summary>The type the bytes are and the name agrees with, or null.</summary>
    public static FileType? Recognise(ReadOnlySpan<byte> head, bool complete, string fileName)
    {
        var extension = Path.GetExtension(fileName).ToLowerInvariant();
        foreach (var type in All)
        {
            if (type.Matches(head, complete))
            {
                // The first type whose bytes match decides: a ZIP named .txt is not text.
                return type.Extensions.Contains(extension) ? type : null;
            }
        }
        return null;
    }

    private static bool IsText(ReadOnlySpan<byte> head, bool complete)
    {
        if (head.IsEmpty)
        {
            return false;
        }
        var chars = new char[head.Length];
        // A head cut off in the middle of a character is still text.
        var status = Utf8.ToUtf16(head, chars, out _, out var written, replaceInvalidSequences: false, isFinalBlock: complete);
        return status is OperationStatus.Done or OperationStatus.NeedMoreData
            && !chars.AsSpan(0, written).ContainsAny(ForbiddenControls);
    }

    private static readonly SearchValues<char> ForbiddenControls = SearchValues.Create(
        Enumerable.Range(0, 32).Append(127).Select(c => (char)c).Where(c => c is not ('\t' or '\n' or '\r' or '\f')).ToArray());
}
