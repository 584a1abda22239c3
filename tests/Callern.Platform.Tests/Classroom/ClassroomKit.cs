using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Callern.Platform.Classroom;
using Callern.Platform.Tests.Calls;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using CallFile = Callern.Platform.Calls.CallFile;
using WhiteboardOperationInput = Callern.Platform.Classroom.WhiteboardOperationInput;

namespace Callern.Platform.Tests.Classroom;

/// <summary>Files, settings and whiteboard data as the classroom tests need them.</summary>
public static class ClassroomKit
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static byte[] Pdf(int size = 600) => Pad("%PDF-1.7\n%test\n"u8, size);

    public static byte[] Png(int size = 300) => Pad([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13], size);

    /// <summary>The start of a Windows program: what a disguised download would be.</summary>
    public static byte[] Program(int size = 400) => Pad("MZ\u0090\u0000\u0003\u0000\u0000\u0000"u8, size);

    private static byte[] Pad(ReadOnlySpan<byte> head, int size)
    {
        var bytes = new byte[size];
        head.CopyTo(bytes);
        for (var i = head.Length; i < size; i++)
        {
            bytes[i] = (byte)(i % 251);
        }
        return bytes;
    }

    /// <summary>POST /v1/calls/{id}/files as a browser's form would send it, with exactly this file name.</summary>
    public static async Task<HttpResponseMessage> UploadAsync(this CallernApp app, TestTenant tenant, string userId, string role, Guid callId, byte[] bytes, string fileName)
    {
        var file = new ByteArrayContent(bytes);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        // Set by hand: MultipartFormDataContent would escape or quote some names on its own.
        file.Headers.ContentDisposition = new ContentDispositionHeaderValue("form-data") { Name = "\"file\"", FileName = "\"" + fileName + "\"" };
        var form = new MultipartFormDataContent { file };
        return await app.As(tenant, userId, role).PostAsync($"/v1/calls/{callId}/files", form);
    }

    public static async Task<CallFile> UploadedAsync(this CallernApp app, TestTenant tenant, string userId, string role, Guid callId, byte[] bytes, string fileName)
    {
        var response = await app.UploadAsync(tenant, userId, role, callId, bytes, fileName);
        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<CallFile>(Json))!;
    }

    /// <summary>Every file under the storage root, temporary ones included.</summary>
    public static IReadOnlyList<string> FilesOnDisk(this CallernApp app) =>
        Directory.Exists(app.FilesPath) ? Directory.GetFiles(app.FilesPath, "*", SearchOption.AllDirectories).Order().ToList() : [];

    public static async Task UseClassroomSettingsAsync(this CallernApp app, TestTenant tenant, Action<Sdk.ClassroomSettings> change)
    {
        var admin = app.SdkAs(tenant, "admin-1", CallernRoles.Admin);
        var settings = await admin.GetSettingsAsync();
        change(settings.Classroom!);
        await admin.UpdateSettingsAsync(settings);
    }

    public static WhiteboardOperationInput Operation(string kind, string json) => new(kind, JsonDocument.Parse(json).RootElement.Clone());
}
