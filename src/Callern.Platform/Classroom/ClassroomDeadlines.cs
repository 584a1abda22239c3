using Callern.Platform.Infrastructure;

namespace Callern.Platform.Classroom;

/// <summary>The classroom's durable timer: a shared file's retention.</summary>
public static class ClassroomDeadlines
{
    public const string FileRetention = "classroom.file_retention";

    public static IServiceCollection AddClassroomDeadlines(this IServiceCollection services) =>
        services.AddSingleton<IDeadlineHandler>(sp => new Handler(sp));

    private sealed class Handler(IServiceProvider services) : IDeadlineHandler
    {
        public string Kind => FileRetention;
        public Task HandleAsync(Deadline deadline, DeadlineContext context) =>
            services.GetRequiredService<ClassroomService>().FileExpiredAsync(deadline, context);
    }
}
