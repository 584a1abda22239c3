using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;

namespace Callern.Samples.SchoolBackend;

/// <summary>Serves the built student and teacher apps at /student/ and /teacher/, and a landing page at /.</summary>
public static class WebApps
{
    public static void UseWebApps(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<WebAppOptions>>().Value;
        foreach (var (schoolApp, root) in new[] { (SchoolApps.Student, options.StudentRoot), (SchoolApps.Teacher, options.TeacherRoot) })
        {
            if (root is null)
            {
                continue;
            }
            var files = new PhysicalFileProvider(Path.GetFullPath(root));
            app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files, RequestPath = schoolApp.PathBase });
            app.UseStaticFiles(new StaticFileOptions { FileProvider = files, RequestPath = schoolApp.PathBase });
        }
        app.MapGet("/", () => Results.Content(
            """
            <!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width">
            <title>Callern sample school</title>
            <h1>Callern sample school</h1>
            <ul><li><a href="/student/">Student app</a></li><li><a href="/teacher/">Teacher app</a></li></ul>
            """, "text/html"));
    }
}
