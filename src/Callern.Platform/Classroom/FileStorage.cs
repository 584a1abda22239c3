namespace Callern.Platform.Classroom;

/// <summary>The content was longer than the limit; nothing was stored.</summary>
public sealed class FileTooLargeException(long maxBytes) : Exception($"The file may hold at most {maxBytes} bytes.")
{
    public long MaxBytes { get; } = maxBytes;
}

/// <summary>
/// Where shared files' bytes live. Keys are ids the platform generates (never a user's file name);
/// a write either stores the whole content under its key or leaves nothing behind.
/// </summary>
public interface IFileStorage
{
    /// <summary>Stores the content under the key and returns its length; <see cref="FileTooLargeException"/> past <paramref name="maxBytes"/>.</summary>
    Task<long> SaveAsync(string key, Stream content, long maxBytes, CancellationToken cancellationToken);

    /// <summary>The stored bytes, or null when the key holds nothing.</summary>
    Stream? OpenRead(string key);

    /// <summary>Removes the key's bytes; a missing key is not an error.</summary>
    void Delete(string key);
}

public sealed class FileStorageOptions
{
    /// <summary>The directory that holds every stored file (Callern:Classroom:FilesPath).</summary>
    public string FilesPath { get; set; } = Path.Combine(".callern", "files");
}

/// <summary>
/// Files in one directory. A key must be a plain name of letters, digits and dashes, so no key
/// can reach outside the root; a write goes to a temporary file in the root and is moved into
/// place only when complete, so a reader never sees half a file and a failed write leaves none.
/// </summary>
public sealed class LocalDiskFileStorage : IFileStorage
{
    private const string TempPrefix = "tmp-";
    private readonly string _root;

    public LocalDiskFileStorage(Microsoft.Extensions.Options.IOptions<FileStorageOptions> options)
    {
        _root = Path.GetFullPath(options.Value.FilesPath);
        Directory.CreateDirectory(_root);
    }

    public async Task<long> SaveAsync(string key, Stream content, long maxBytes, CancellationToken cancellationToken)
    {
        var target = PathOf(key);
        var temp = Path.Combine(_root, TempPrefix + Guid.NewGuid().ToString("N"));
        try
        {
            long written = 0;
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, useAsync: true))
            {
                var buffer = new byte[64 * 1024];
                int read;
                while ((read = await content.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    written += read;
                    if (written > maxBytes)
                    {
                        throw new FileTooLargeException(maxBytes);
                    }
                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }
            }
            File.Move(temp, target, overwrite: false);
            return written;
        }
        finally
        {
            File.Delete(temp);
        }
    }

    public Stream? OpenRead(string key)
    {
        try
        {
            return new FileStream(PathOf(key), FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, useAsync: true);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    public void Delete(string key) => File.Delete(PathOf(key));

    private string PathOf(string key)
    {
        if (key.Length is 0 or > 64 || key.StartsWith(TempPrefix, StringComparison.Ordinal) || !key.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
        {
            throw new ArgumentException("A storage key is 1–64 letters, digits and dashes.", nameof(key));
        }
        return Path.Combine(_root, key);
    }
}
